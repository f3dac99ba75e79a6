//! A serial port (UART) as a [`ByteSource`], for firmware whose sender writes its frames to a
//! UART instead of an RTT ring (feature `serial`, through the `serialport` crate).
//!
//! The frames are the same COBS frames a ring carries, so the same [`Pipeline`] decodes them;
//! requests ([`Request`](rtt_tunnel_protocol::Request)) go back on the port's transmit line,
//! for a firmware that reads them from its receive line.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use rtt_tunnel_host::output::{Format, Output};
//! use rtt_tunnel_host::pipeline::{Drain, Pipeline};
//! use rtt_tunnel_host::receiver::Receiver;
//! use rtt_tunnel_host::serial::SerialSource;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dispatch = Output::new(Format::Compact).dispatch()?;
//! tracing_core::dispatcher::set_global_default(dispatch)?;
//! let port = SerialSource::open("/dev/ttyACM0", 115_200)?;
//! let mut receiver = Receiver::default();
//! let mut drain = Drain::new(port, Pipeline::new());
//! drain.run(&mut receiver, &AtomicBool::new(false))?; // until the port goes away
//! eprintln!("{}", drain.stats(&receiver));
//! # Ok(())
//! # }
//! ```
//!
//! [`Pipeline`]: crate::pipeline::Pipeline

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serialport::SerialPort;

use crate::pipeline::{ByteSource, Pulled};

/// How long one [`pull`](ByteSource::pull) waits for bytes before it reports none.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// A serial port could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the serial port {}: {source}", .path.display())]
pub struct SerialError {
    /// The port's path.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: serialport::Error,
}

/// A serial port the target's frames arrive on. See the [module docs](self).
pub struct SerialSource {
    port: Box<dyn SerialPort>,
    path: PathBuf,
    chunk: Vec<u8>,
}

impl std::fmt::Debug for SerialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialSource")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SerialSource {
    /// Opens the port at `path` (`/dev/ttyUSB0`, `COM3`) at `baud` bits per second, 8 data
    /// bits, no parity, one stop bit, no flow control.
    ///
    /// # Errors
    ///
    /// The port does not exist, is busy, or may not be opened by this user.
    pub fn open(path: impl AsRef<Path>, baud: u32) -> Result<Self, SerialError> {
        let path = path.as_ref();
        let port = serialport::new(path.to_string_lossy(), baud)
            .timeout(READ_TIMEOUT)
            .open()
            .map_err(|source| SerialError {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::from_port(port, path))
    }

    /// A source over a port already open (a pseudo-terminal, a port set up another way);
    /// `path` names it in messages. Reads should time out after a short while
    /// ([`READ_TIMEOUT`]), or the drain cannot see its stop flag.
    pub fn from_port(port: Box<dyn SerialPort>, path: impl Into<PathBuf>) -> Self {
        SerialSource {
            port,
            path: path.into(),
            chunk: vec![0; 4096],
        }
    }

    /// The port's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ByteSource for SerialSource {
    fn pull(&mut self, buf: &mut Vec<u8>) -> io::Result<Pulled> {
        match self.port.read(&mut self.chunk) {
            // A port that reads nothing without timing out has hung up.
            Ok(0) => Ok(Pulled::Ended),
            Ok(n) => {
                buf.extend_from_slice(&self.chunk[..n]);
                Ok(Pulled::Data(n))
            }
            Err(error) => match error.kind() {
                io::ErrorKind::TimedOut
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::Interrupted => Ok(Pulled::Data(0)),
                // The other end went away: a USB adapter unplugged, a pseudo-terminal whose
                // master closed (Linux reads EIO then).
                io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof => Ok(Pulled::Ended),
                _ if error.raw_os_error() == Some(EIO) => Ok(Pulled::Ended),
                _ => Err(error),
            },
        }
    }

    fn push(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.port.write(bytes)?;
        self.port.flush()?;
        Ok(n)
    }
}

/// `EIO`: what Linux returns for a read of a pseudo-terminal whose other end closed.
const EIO: i32 = 5;
