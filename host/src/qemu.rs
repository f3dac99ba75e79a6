//! Run firmware in `qemu-system-arm` and reach it through QEMU's gdbstub.
//!
//! [`Qemu::launch`] starts
//!
//! ```text
//! qemu-system-arm -machine MACHINE -nographic -semihosting-config enable=on,target=native \
//!     -kernel ELF -gdb tcp:127.0.0.1:PORT -S
//! ```
//!
//! on a free loopback port and connects a [`GdbMemory`] to it. `-S` holds the core at its
//! reset vector until the GDB connection is up, so even firmware that runs for a millisecond
//! cannot finish (and take its first frames with it) before the host is there; the connection
//! then resumes it ([`GdbOptions::resume_after_connect`]). The firmware ends itself with a
//! semihosting exit, which becomes QEMU's exit code: [`Qemu::wait`] returns it. QEMU is killed
//! when the [`Qemu`] is dropped, and runs in its own process group, so a Ctrl-C in the
//! terminal reaches the host (which restores the target and then stops QEMU), not QEMU.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::gdb::{GdbClient, GdbError, GdbMemory, GdbOptions};

/// Where QEMU's standard output (semihosting console output, the firmware's `hprintln!`)
/// goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QemuOutput {
    /// To the host's standard output.
    Inherit,
    /// Into a buffer: [`Qemu::stdout`].
    Capture,
    /// Nowhere.
    Discard,
}

/// How to run QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuOptions {
    /// The emulator (`qemu-system-arm`, looked up in `PATH`).
    pub program: PathBuf,
    /// The machine (`-machine`); by default the board table's default board's
    /// (`rtt_tunnel_boards::DEFAULT`).
    pub machine: String,
    /// The CPU (`-cpu`); the MPS2 machines pick theirs.
    pub cpu: Option<String>,
    /// The firmware ELF (`-kernel`).
    pub elf: PathBuf,
    /// More arguments, passed last.
    pub extra_args: Vec<String>,
    /// Where QEMU's standard output goes. Its standard error is always captured, for
    /// [`Qemu::stderr`] and error messages.
    pub output: QemuOutput,
    /// How long QEMU may take to open its gdbstub.
    pub start_timeout: Duration,
}

impl QemuOptions {
    /// Runs `elf` on the board table's default machine (`rtt_tunnel_boards::DEFAULT`).
    pub fn new(elf: impl Into<PathBuf>) -> Self {
        QemuOptions {
            program: PathBuf::from("qemu-system-arm"),
            machine: rtt_tunnel_boards::DEFAULT.machine.into(),
            cpu: None,
            elf: elf.into(),
            extra_args: Vec::new(),
            output: QemuOutput::Inherit,
            start_timeout: Duration::from_secs(10),
        }
    }

    /// On this machine.
    pub fn machine(mut self, machine: impl Into<String>) -> Self {
        self.machine = machine.into();
        self
    }

    /// With this standard output.
    pub fn output(mut self, output: QemuOutput) -> Self {
        self.output = output;
        self
    }
}

/// What went wrong running QEMU.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QemuError {
    /// The emulator is not installed.
    #[error("`{program}` was not found: QEMU's Arm system emulator is not installed (Debian and Ubuntu package it as qemu-system-arm)")]
    NotInstalled {
        /// The program looked for.
        program: String,
    },
    /// The emulator could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: io::Error,
    },
    /// The firmware file is missing.
    #[error("the firmware ELF {} does not exist", .path.display())]
    ElfMissing {
        /// The path given.
        path: PathBuf,
    },
    /// QEMU ended before its gdbstub answered.
    #[error("QEMU exited ({status}) before its gdbstub accepted a connection: {stderr}\ncommand: {command}")]
    EarlyExit {
        /// How it ended.
        status: String,
        /// What it printed.
        stderr: String,
        /// The command line.
        command: String,
    },
    /// QEMU's gdbstub never accepted a connection.
    #[error("QEMU's gdbstub did not accept a connection on {address} within {timeout:?}\ncommand: {command}")]
    NoGdbstub {
        /// Where it should have listened.
        address: SocketAddr,
        /// How long the host waited.
        timeout: Duration,
        /// The command line.
        command: String,
    },
    /// The GDB connection failed.
    #[error("the GDB connection to QEMU failed: {0}")]
    Gdb(#[from] GdbError),
    /// The firmware did not end in time.
    #[error("the firmware did not exit within {timeout:?}, so QEMU was killed (does it end with a semihosting exit?){stderr}")]
    Timeout {
        /// How long the host waited.
        timeout: Duration,
        /// What QEMU printed, if anything.
        stderr: String,
    },
    /// QEMU was killed by a signal.
    #[error("QEMU was killed by signal {signal}{stderr}")]
    Killed {
        /// The signal.
        signal: i32,
        /// What QEMU printed, if anything.
        stderr: String,
    },
    /// Waiting for or killing QEMU failed.
    #[error("cannot control the QEMU process: {0}")]
    Io(#[from] io::Error),
}

/// A buffer a thread fills from a pipe.
#[derive(Debug)]
struct Captured {
    buffer: Arc<Mutex<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Captured {
    fn start(mut pipe: impl Read + Send + 'static) -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                if let Ok(mut buffer) = sink.lock() {
                    buffer.extend_from_slice(&chunk[..n]);
                }
            }
        });
        Captured {
            buffer,
            thread: Some(thread),
        }
    }

    fn text(&self) -> String {
        self.buffer
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn finish(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running `qemu-system-arm`; killed when dropped.
#[derive(Debug)]
pub struct Qemu {
    child: Child,
    gdb_address: SocketAddr,
    command: String,
    stdout: Option<Captured>,
    stderr: Captured,
    status: Option<ExitStatus>,
}

impl Qemu {
    /// Starts QEMU halted with its gdbstub on a free loopback port, connects to it, and
    /// returns both. With the default [`GdbOptions`] the firmware is running when this
    /// returns.
    pub fn launch(options: &QemuOptions, gdb: GdbOptions) -> Result<(Qemu, GdbMemory), QemuError> {
        if !options.elf.is_file() {
            return Err(QemuError::ElfMissing {
                path: options.elf.clone(),
            });
        }
        // The free port can be taken by someone else before QEMU binds it: try again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port()?;
            let mut qemu = Self::spawn(options, port)?;
            match qemu.connect(options.start_timeout, gdb.clone()) {
                Ok(memory) => return Ok((qemu, memory)),
                Err(QemuError::EarlyExit { ref stderr, .. })
                    if attempts < 3 && stderr.contains("ddress already in use") => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn spawn(options: &QemuOptions, port: u16) -> Result<Qemu, QemuError> {
        let program = options.program.display().to_string();
        let mut command = Command::new(&options.program);
        command.arg("-machine").arg(&options.machine);
        if let Some(cpu) = &options.cpu {
            command.arg("-cpu").arg(cpu);
        }
        command
            .args([
                "-nographic",
                "-semihosting-config",
                "enable=on,target=native",
            ])
            .arg("-kernel")
            .arg(&options.elf)
            .arg("-gdb")
            .arg(format!("tcp:127.0.0.1:{port}"))
            .arg("-S")
            .args(&options.extra_args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .stdout(match options.output {
                QemuOutput::Inherit => Stdio::inherit(),
                QemuOutput::Capture => Stdio::piped(),
                QemuOutput::Discard => Stdio::null(),
            });
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Ctrl-C in the terminal goes to the host, which shuts QEMU down in order.
            command.process_group(0);
        }
        let shown = show_command(&command);
        let mut child = command.spawn().map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => QemuError::NotInstalled {
                program: program.clone(),
            },
            _ => QemuError::Spawn {
                program: program.clone(),
                source,
            },
        })?;
        let stderr = Captured::start(child.stderr.take().expect("stderr is piped"));
        let stdout = child.stdout.take().map(Captured::start);
        Ok(Qemu {
            child,
            gdb_address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            command: shown,
            stdout,
            stderr,
            status: None,
        })
    }

    fn connect(&mut self, timeout: Duration, options: GdbOptions) -> Result<GdbMemory, QemuError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                self.stderr.finish();
                return Err(QemuError::EarlyExit {
                    status: status.to_string(),
                    stderr: self.stderr.text().trim().to_owned(),
                    command: self.command.clone(),
                });
            }
            match TcpStream::connect_timeout(&self.gdb_address, Duration::from_millis(200)) {
                Ok(stream) => {
                    let client = GdbClient::from_stream(stream, options)?;
                    return Ok(GdbMemory::new(client));
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => {
                    return Err(QemuError::NoGdbstub {
                        address: self.gdb_address,
                        timeout,
                        command: self.command.clone(),
                    })
                }
            }
        }
    }

    /// Where QEMU's gdbstub listens.
    pub fn gdb_address(&self) -> SocketAddr {
        self.gdb_address
    }

    /// The command line QEMU was started with.
    pub fn command_line(&self) -> &str {
        &self.command
    }

    /// QEMU's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What QEMU wrote to its standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// What QEMU wrote to its standard output so far (with [`QemuOutput::Capture`]; empty
    /// otherwise): the firmware's semihosting output.
    pub fn stdout(&self) -> String {
        self.stdout.as_ref().map(Captured::text).unwrap_or_default()
    }

    /// The firmware's exit code if QEMU has ended, without waiting.
    pub fn try_exit_code(&mut self) -> Result<Option<i32>, QemuError> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        match self.status {
            Some(status) => self.exit_code(status).map(Some),
            None => Ok(None),
        }
    }

    /// Waits for QEMU to end and returns the firmware's exit code (its semihosting exit: 0
    /// for success). After `timeout` QEMU is killed and [`QemuError::Timeout`] returned.
    pub fn wait(&mut self, timeout: Duration) -> Result<i32, QemuError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.try_exit_code()? {
                return Ok(code);
            }
            if Instant::now() >= deadline {
                self.kill()?;
                return Err(QemuError::Timeout {
                    timeout,
                    stderr: self.stderr_suffix(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills QEMU (if it still runs) and reaps it.
    pub fn kill(&mut self) -> Result<(), QemuError> {
        if self.status.is_none() {
            match self.child.kill() {
                Ok(()) => {}
                // Already ended.
                Err(error) if error.kind() == io::ErrorKind::InvalidInput => {}
                Err(error) => return Err(error.into()),
            }
            self.status = Some(self.child.wait()?);
        }
        self.stderr.finish();
        if let Some(stdout) = &mut self.stdout {
            stdout.finish();
        }
        Ok(())
    }

    fn exit_code(&mut self, status: ExitStatus) -> Result<i32, QemuError> {
        if let Some(code) = status.code() {
            return Ok(code);
        }
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if let Some(signal) = status.signal() {
                self.stderr.finish();
                return Err(QemuError::Killed {
                    signal,
                    stderr: self.stderr_suffix(),
                });
            }
        }
        Err(QemuError::Io(io::Error::other(format!(
            "QEMU ended without an exit code ({status})"
        ))))
    }

    fn stderr_suffix(&self) -> String {
        let text = self.stderr.text();
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!("; QEMU said: {text}")
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn show_command(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `program` can be started (for tests that must fail with the install hint, not
/// skip, when QEMU is missing).
pub fn is_installed(program: &Path) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_emulator_says_how_to_install_it() {
        let elf = std::env::current_exe().unwrap();
        let options = QemuOptions {
            program: PathBuf::from("/nonexistent/qemu-system-arm"),
            ..QemuOptions::new(elf)
        };
        let error = Qemu::launch(&options, GdbOptions::default()).unwrap_err();
        assert!(matches!(error, QemuError::NotInstalled { .. }), "{error}");
        assert!(error.to_string().contains("package it as qemu-system-arm"));
        assert!(!is_installed(&options.program));
    }

    #[test]
    fn a_missing_elf_is_named() {
        let options = QemuOptions::new("/nonexistent/firmware.elf");
        let error = Qemu::launch(&options, GdbOptions::default()).unwrap_err();
        assert!(matches!(error, QemuError::ElfMissing { .. }), "{error}");
        assert!(error
            .to_string()
            .contains("/nonexistent/firmware.elf does not exist"));
    }

    #[test]
    fn an_emulator_that_dies_at_once_is_an_early_exit_with_its_words() {
        // `false` stands in for a QEMU that rejects its arguments.
        let elf = std::env::current_exe().unwrap();
        let options = QemuOptions {
            program: PathBuf::from("false"),
            start_timeout: Duration::from_secs(5),
            ..QemuOptions::new(elf)
        };
        let error = Qemu::launch(&options, GdbOptions::default()).unwrap_err();
        match error {
            QemuError::EarlyExit {
                status, command, ..
            } => {
                assert!(status.contains('1'), "{status}");
                assert!(command.contains("-gdb tcp:127.0.0.1:"), "{command}");
                assert!(command.ends_with("-S"), "{command}");
            }
            other => panic!("{other}"),
        }
    }
}
