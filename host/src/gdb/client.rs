//! A GDB remote serial protocol client over TCP: just what reading RTT needs.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::packet::{
    self, decode_rle, escape_binary, frame, hex_decode, hex_encode, hex_number, is_console_output,
    parse_stop_reply, show, StopReply,
};

/// Bytes of noise tolerated before a packet starts.
const MAX_GARBAGE: usize = 4096;
/// A packet longer than this is garbage.
const MAX_PACKET: usize = 1 << 20;
/// Times a packet is sent again after the peer rejected its checksum.
const MAX_RETRANSMITS: u32 = 3;

/// How to talk to the GDB server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbOptions {
    /// How long to wait for any answer (a reply, an ack, a stop after an interrupt).
    pub timeout: Duration,
    /// How long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Most bytes one `m` packet reads. 2 KiB is QEMU's limit; the server's `PacketSize`
    /// lowers it further.
    pub max_read: usize,
    /// Use `QStartNoAckMode` when the server offers it (QEMU 7.2 does not: there every
    /// packet is acknowledged).
    pub no_ack: bool,
    /// Resume the target once connected (servers halt it when a debugger attaches; QEMU
    /// started with `-S` waits for this).
    pub resume_after_connect: bool,
}

impl Default for GdbOptions {
    fn default() -> Self {
        GdbOptions {
            timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            max_read: 2048,
            no_ack: true,
            resume_after_connect: true,
        }
    }
}

/// What went wrong talking to the GDB server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GdbError {
    /// No TCP connection.
    #[error("cannot connect to the GDB server at {address}: {source}; is the server running and listening on that port?")]
    Connect {
        /// What was dialled.
        address: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The server closed the connection.
    #[error("the GDB server closed the connection (while {during}); did it, or the target, exit?")]
    ConnectionClosed {
        /// What the client was doing.
        during: String,
    },
    /// The socket failed.
    #[error("I/O error talking to the GDB server (while {during}): {source}")]
    Io {
        /// What the client was doing.
        during: String,
        /// The error.
        source: io::Error,
    },
    /// No answer in time.
    #[error("the GDB server did not answer within {timeout:?} (while {during})")]
    Timeout {
        /// What the client was waiting for.
        during: String,
        /// How long it waited.
        timeout: Duration,
    },
    /// The server answered with `E nn`.
    #[error("the GDB server refused `{request}` with {reply}")]
    ErrorReply {
        /// The request (truncated).
        request: String,
        /// The reply, such as `E14`.
        reply: String,
    },
    /// The server sent something the protocol does not allow.
    #[error("the GDB server sent a malformed answer to `{request}`: {detail}")]
    Protocol {
        /// The request (truncated).
        request: String,
        /// What was wrong.
        detail: String,
    },
    /// The server does not implement a request the client needs.
    #[error("the GDB server does not support `{request}`")]
    Unsupported {
        /// The request.
        request: String,
    },
    /// The target program exited (stop reply `W`).
    #[error("the target program exited with code {code}")]
    Exited {
        /// Its exit code.
        code: u8,
    },
    /// The target program was terminated (stop reply `X`).
    #[error("the target program was terminated by signal {signal}")]
    Terminated {
        /// The signal.
        signal: u8,
    },
    /// Memory was accessed while the target runs (all-stop servers cannot do that).
    #[error("the target is running: halt it before accessing memory over GDB")]
    Running,
    /// An earlier failure left the connection out of step with the server.
    #[error("the GDB connection is unusable after an earlier failure: {reason}")]
    Unusable {
        /// The earlier failure.
        reason: String,
        /// Whether that failure was the connection going away.
        disconnected: bool,
    },
}

impl GdbError {
    /// True when the connection or the target is gone for good.
    pub fn is_disconnected(&self) -> bool {
        matches!(
            self,
            GdbError::ConnectionClosed { .. }
                | GdbError::Io { .. }
                | GdbError::Exited { .. }
                | GdbError::Terminated { .. }
                | GdbError::Unusable {
                    disconnected: true,
                    ..
                }
        )
    }
}

/// Counters of the client's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GdbStats {
    /// Packets sent (retransmissions not counted).
    pub packets_sent: u64,
    /// Packets received.
    pub packets_received: u64,
    /// Packets sent again after a `-`.
    pub retransmits: u64,
    /// Interrupts sent.
    pub interrupts: u64,
    /// Continues sent.
    pub resumes: u64,
    /// Bytes of target memory read.
    pub bytes_read: u64,
    /// Bytes of target memory written.
    pub bytes_written: u64,
}

/// A connection to a GDB server (QEMU's gdbstub, OpenOCD, pyOCD, J-Link GDB Server, Black
/// Magic Probe), in all-stop mode.
///
/// It speaks the few packets RTT needs: `qSupported`, `QStartNoAckMode` when offered, `?`,
/// `m` (chunked to the server's packet size, at most [`GdbOptions::max_read`]), `X` (probed
/// once; `M` when the server lacks it), `c`, and the interrupt byte `0x03`. Replies are
/// checksummed, acknowledged, run-length decoded; noise before a packet is skipped and a bad
/// checksum asks for the packet again.
///
/// In all-stop mode nothing but an interrupt may be sent while the target runs: memory
/// accesses fail with [`GdbError::Running`] then. [`GdbMemory`](super::GdbMemory) halts and
/// resumes around each batch.
///
/// After a lost connection, a timeout or a framing error the connection is out of step with
/// the server, and every later call fails at once with [`GdbError::Unusable`].
#[derive(Debug)]
pub struct GdbClient {
    stream: TcpStream,
    peer: SocketAddr,
    input: Vec<u8>,
    position: usize,
    options: GdbOptions,
    ack_mode: bool,
    packet_size: usize,
    features: Vec<String>,
    running: bool,
    binary_writes: Option<bool>,
    last_stop: Option<StopReply>,
    broken: Option<(String, bool)>,
    stats: GdbStats,
}

impl GdbClient {
    /// Connects to `address` (`host:port`), negotiates, and asks why the target is stopped.
    /// Resumes it when [`GdbOptions::resume_after_connect`] says so.
    pub fn connect(address: impl ToSocketAddrs, options: GdbOptions) -> Result<Self, GdbError> {
        let shown = || {
            address
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map_or_else(|| "?".to_owned(), |a| a.to_string())
        };
        let addresses: Vec<SocketAddr> = address
            .to_socket_addrs()
            .map_err(|source| GdbError::Connect {
                address: "the given address".into(),
                source,
            })?
            .collect();
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to dial");
        for peer in addresses {
            match TcpStream::connect_timeout(&peer, options.connect_timeout) {
                Ok(stream) => return Self::from_stream(stream, options),
                Err(error) => last_error = error,
            }
        }
        Err(GdbError::Connect {
            address: shown(),
            source: last_error,
        })
    }

    /// Runs the handshake over an open connection.
    pub fn from_stream(stream: TcpStream, options: GdbOptions) -> Result<Self, GdbError> {
        let io = |source| GdbError::Io {
            during: "setting up the connection".into(),
            source,
        };
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(options.timeout)).map_err(io)?;
        stream
            .set_write_timeout(Some(options.timeout))
            .map_err(io)?;
        let peer = stream.peer_addr().map_err(io)?;
        let resume = options.resume_after_connect;
        let mut client = GdbClient {
            stream,
            peer,
            input: Vec::with_capacity(8192),
            position: 0,
            options,
            ack_mode: true,
            packet_size: 1024,
            features: Vec::new(),
            running: false,
            binary_writes: None,
            last_stop: None,
            broken: None,
            stats: GdbStats::default(),
        };
        client.handshake()?;
        if resume {
            client.resume()?;
        }
        Ok(client)
    }

    fn handshake(&mut self) -> Result<(), GdbError> {
        let reply = self.transact(b"qSupported")?;
        self.features = String::from_utf8_lossy(&reply)
            .split(';')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(size) = self
            .features
            .iter()
            .find_map(|f| f.strip_prefix("PacketSize="))
            .and_then(|hex| hex_number(hex.as_bytes()))
        {
            self.packet_size = (size as usize).clamp(64, MAX_PACKET);
        }
        if self.options.no_ack && self.supports("QStartNoAckMode") {
            let reply = self.transact(b"QStartNoAckMode")?;
            if reply == b"OK" {
                self.ack_mode = false;
            }
        }
        let reply = self.transact(b"?")?;
        match parse_stop_reply(&reply) {
            Some(StopReply::Signal(signal)) => {
                self.last_stop = Some(StopReply::Signal(signal));
                self.running = false;
                Ok(())
            }
            Some(StopReply::Exited(code)) => Err(GdbError::Exited { code }),
            Some(StopReply::Terminated(signal)) => Err(GdbError::Terminated { signal }),
            None => Err(GdbError::Protocol {
                request: "?".into(),
                detail: format!("expected a stop reply, got `{}`", show(&reply)),
            }),
        }
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The features the server listed in its `qSupported` reply.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// Whether the server listed `feature+` (or `feature=...`).
    pub fn supports(&self, feature: &str) -> bool {
        self.features.iter().any(|f| {
            f.strip_prefix(feature)
                .is_some_and(|rest| rest == "+" || rest.starts_with('='))
        })
    }

    /// The server's maximum packet size.
    pub fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// Most bytes one `m` packet asks for.
    pub fn max_read(&self) -> usize {
        (self.packet_size / 2).min(self.options.max_read).max(16) & !3
    }

    /// Whether every packet is still acknowledged (no `QStartNoAckMode`).
    pub fn ack_mode(&self) -> bool {
        self.ack_mode
    }

    /// Whether the client resumed the target and has not stopped it since.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The last stop reply seen.
    pub fn last_stop(&self) -> Option<StopReply> {
        self.last_stop
    }

    /// Traffic so far.
    pub fn stats(&self) -> GdbStats {
        self.stats
    }

    /// The options in use.
    pub fn options(&self) -> &GdbOptions {
        &self.options
    }

    /// Stops the target (the interrupt byte) and waits for its stop reply. The reply may say
    /// it stopped by itself before the interrupt arrived (a signal other than
    /// [`SIGINT`](super::SIGINT)), or that the program exited ([`GdbError::Exited`]). Does
    /// nothing when the target is not running.
    pub fn interrupt(&mut self) -> Result<StopReply, GdbError> {
        self.usable()?;
        if !self.running {
            return Ok(self.last_stop.unwrap_or(StopReply::Signal(0)));
        }
        self.stats.interrupts += 1;
        if let Err(error) = self.send_raw(&[0x03], "interrupting the target") {
            // The server may have said goodbye (an exit) before it went away.
            return match self.read_packet("interrupting the target") {
                Ok(reply) => self.stopped(&reply, "interrupting the target"),
                Err(_) => Err(error),
            };
        }
        loop {
            let reply = self.read_packet("waiting for the target to stop")?;
            if is_console_output(&reply) {
                continue;
            }
            return self.stopped(&reply, "waiting for the target to stop");
        }
    }

    fn stopped(&mut self, reply: &[u8], during: &str) -> Result<StopReply, GdbError> {
        match parse_stop_reply(reply) {
            Some(stop) => {
                self.running = false;
                self.last_stop = Some(stop);
                match stop {
                    StopReply::Signal(_) => Ok(stop),
                    StopReply::Exited(code) => Err(self.gone(GdbError::Exited { code })),
                    StopReply::Terminated(signal) => {
                        Err(self.gone(GdbError::Terminated { signal }))
                    }
                }
            }
            None => Err(self.fail(GdbError::Protocol {
                request: during.into(),
                detail: format!("expected a stop reply, got `{}`", show(reply)),
            })),
        }
    }

    /// Resumes the target (`c`). Does nothing when it runs.
    pub fn resume(&mut self) -> Result<(), GdbError> {
        self.usable()?;
        if self.running {
            return Ok(());
        }
        self.send_packet(b"c", "resuming the target")?;
        self.stats.resumes += 1;
        self.running = true;
        Ok(())
    }

    /// Reads target memory into `buf`, in packets of at most [`max_read`](Self::max_read)
    /// bytes. The target must be stopped.
    pub fn read_memory(&mut self, address: u64, buf: &mut [u8]) -> Result<(), GdbError> {
        let mut done = 0;
        while done < buf.len() {
            let at = address + done as u64;
            let want = (buf.len() - done).min(self.max_read());
            let request = format!("m{at:x},{want:x}");
            let reply = self.transact(request.as_bytes())?;
            let got = reply.len() / 2;
            // A server may answer with fewer bytes than asked for (the rest unreadable).
            let hex_ok = reply.len() % 2 == 0
                && got > 0
                && got <= want
                && hex_decode(&reply, &mut buf[done..done + got]).is_some();
            if hex_ok {
                done += got;
                self.stats.bytes_read += got as u64;
            } else if reply.first() == Some(&b'E') {
                return Err(GdbError::ErrorReply {
                    request,
                    reply: show(&reply),
                });
            } else if reply.is_empty() {
                return Err(GdbError::Unsupported { request });
            } else {
                return Err(GdbError::Protocol {
                    detail: format!("expected {} hex digits, got `{}`", want * 2, show(&reply)),
                    request,
                });
            }
        }
        Ok(())
    }

    /// Writes `data` into target memory (`X` when the server has it, else `M`), in packets
    /// that fit the server's packet size. The target must be stopped.
    pub fn write_memory(&mut self, address: u64, data: &[u8]) -> Result<(), GdbError> {
        // Room for "Xffffffff,ffff:" and the framing; hex or escapes double the data at most.
        let chunk = ((self.packet_size.saturating_sub(32)) / 2).max(1);
        for (i, piece) in data.chunks(chunk).enumerate() {
            let at = address + (i * chunk) as u64;
            self.write_chunk(at, piece)?;
            self.stats.bytes_written += piece.len() as u64;
        }
        Ok(())
    }

    fn write_chunk(&mut self, address: u64, data: &[u8]) -> Result<(), GdbError> {
        if self.binary_writes != Some(false) {
            let mut request = format!("X{address:x},{:x}:", data.len()).into_bytes();
            escape_binary(data, &mut request);
            let reply = self.transact(&request)?;
            match reply.as_slice() {
                b"OK" => {
                    self.binary_writes = Some(true);
                    return Ok(());
                }
                // Not implemented: fall back to hex for good.
                b"" => self.binary_writes = Some(false),
                _ => return Err(write_error(&request, &reply)),
            }
        }
        let request = format!("M{address:x},{:x}:{}", data.len(), hex_encode(data));
        let reply = self.transact(request.as_bytes())?;
        match reply.as_slice() {
            b"OK" => Ok(()),
            b"" => Err(GdbError::Unsupported {
                request: "M".into(),
            }),
            _ => Err(write_error(request.as_bytes(), &reply)),
        }
    }

    /// Sends `k`: the server kills the target (QEMU exits). The connection is done after it.
    pub fn kill(&mut self) -> Result<(), GdbError> {
        self.usable()?;
        if self.running {
            self.interrupt().ok();
        }
        let result = self.send_packet(b"k", "killing the target");
        self.broken = Some(("the target was killed".into(), true));
        result
    }

    /// Sends `D`: the server detaches and lets the target run on. The connection is done
    /// after it.
    pub fn detach(&mut self) -> Result<(), GdbError> {
        self.usable()?;
        if self.running {
            self.interrupt()?;
        }
        let reply = self.transact(b"D");
        self.broken = Some(("the client detached".into(), true));
        match reply?.as_slice() {
            b"OK" => Ok(()),
            other => Err(GdbError::Protocol {
                request: "D".into(),
                detail: format!("expected OK, got `{}`", show(other)),
            }),
        }
    }

    /// Sends a request and returns its reply, skipping console output and stray stop
    /// replies. The target must be stopped.
    pub fn transact(&mut self, request: &[u8]) -> Result<Vec<u8>, GdbError> {
        self.usable()?;
        if self.running {
            return Err(GdbError::Running);
        }
        let during = String::from_utf8_lossy(&request[..request.len().min(32)]).into_owned();
        self.send_packet(request, &during)?;
        loop {
            let reply = self.read_packet(&during)?;
            if is_console_output(&reply) {
                continue;
            }
            // A second stop reply to an interrupt that crossed a stop of the target's own.
            // Memory replies are hex, `OK` or `E nn`, never one of these.
            if request != b"?" {
                if let Some(stop) = parse_stop_reply(&reply) {
                    self.last_stop = Some(stop);
                    match stop {
                        StopReply::Signal(_) => continue,
                        StopReply::Exited(code) => return Err(self.gone(GdbError::Exited { code })),
                        StopReply::Terminated(signal) => {
                            return Err(self.gone(GdbError::Terminated { signal }))
                        }
                    }
                }
            }
            return Ok(reply);
        }
    }

    fn usable(&self) -> Result<(), GdbError> {
        match &self.broken {
            Some((reason, disconnected)) => Err(GdbError::Unusable {
                reason: reason.clone(),
                disconnected: *disconnected,
            }),
            None => Ok(()),
        }
    }

    /// Marks the connection unusable after `error`, and returns it.
    fn fail(&mut self, error: GdbError) -> GdbError {
        let disconnected = error.is_disconnected();
        self.broken = Some((error.to_string(), disconnected));
        error
    }

    /// The target is gone: later calls fail as disconnected.
    fn gone(&mut self, error: GdbError) -> GdbError {
        self.broken = Some((error.to_string(), true));
        error
    }

    fn send_raw(&mut self, bytes: &[u8], during: &str) -> Result<(), GdbError> {
        match self.stream.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = self.io_error(error, during);
                Err(self.fail(error))
            }
        }
    }

    fn send_packet(&mut self, payload: &[u8], during: &str) -> Result<(), GdbError> {
        let framed = frame(payload);
        self.stats.packets_sent += 1;
        for attempt in 0..=MAX_RETRANSMITS {
            if attempt > 0 {
                self.stats.retransmits += 1;
            }
            self.send_raw(&framed, during)?;
            if !self.ack_mode {
                return Ok(());
            }
            let mut garbage = 0;
            loop {
                match self.next_byte(during)? {
                    b'+' => return Ok(()),
                    b'-' => break,
                    // A reply without an ack: take it as acknowledged.
                    b'$' => {
                        self.position -= 1;
                        return Ok(());
                    }
                    _ => {
                        garbage += 1;
                        if garbage > MAX_GARBAGE {
                            return Err(self.fail(GdbError::Protocol {
                                request: during.into(),
                                detail: "no acknowledgement, only noise".into(),
                            }));
                        }
                    }
                }
            }
        }
        Err(self.fail(GdbError::Protocol {
            request: during.into(),
            detail: format!(
                "the server rejected the packet {} times",
                MAX_RETRANSMITS + 1
            ),
        }))
    }

    fn read_packet(&mut self, during: &str) -> Result<Vec<u8>, GdbError> {
        let mut rejected = 0;
        let mut garbage = 0;
        loop {
            // Skip to the start of a packet.
            loop {
                match self.next_byte(during)? {
                    b'$' => break,
                    // Acks of a packet we re-sent, and noise.
                    b'+' | b'-' => {}
                    _ => {
                        garbage += 1;
                        if garbage > MAX_GARBAGE {
                            return Err(self.fail(GdbError::Protocol {
                                request: during.into(),
                                detail: format!(
                                    "more than {MAX_GARBAGE} bytes of noise and no packet"
                                ),
                            }));
                        }
                    }
                }
            }
            let mut body = Vec::new();
            loop {
                match self.next_byte(during)? {
                    b'#' => break,
                    // A new packet start: the one before was cut off.
                    b'$' => body.clear(),
                    byte => {
                        body.push(byte);
                        if body.len() > MAX_PACKET {
                            return Err(self.fail(GdbError::Protocol {
                                request: during.into(),
                                detail: format!("a packet longer than {MAX_PACKET} bytes"),
                            }));
                        }
                    }
                }
            }
            let high = self.next_byte(during)?;
            let low = self.next_byte(during)?;
            let sum = hex_number(&[high, low]);
            if sum != Some(u64::from(packet::checksum(&body))) {
                if self.ack_mode && rejected < MAX_RETRANSMITS {
                    rejected += 1;
                    self.send_raw(b"-", during)?;
                    continue;
                }
                return Err(self.fail(GdbError::Protocol {
                    request: during.into(),
                    detail: format!("bad checksum on `{}`", show(&body)),
                }));
            }
            if self.ack_mode {
                // A server that exits sends its last packet (`W`) and closes: the ack cannot
                // go out, but the packet still counts. The failed send marks the connection.
                let _ = self.send_raw(b"+", during);
            }
            self.stats.packets_received += 1;
            return decode_rle(&body).map_err(|detail| GdbError::Protocol {
                request: during.into(),
                detail,
            });
        }
    }

    fn next_byte(&mut self, during: &str) -> Result<u8, GdbError> {
        if self.position == self.input.len() {
            self.input.resize(8192, 0);
            self.position = 0;
            let read = loop {
                match self.stream.read(&mut self.input) {
                    Ok(n) => break n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        self.input.clear();
                        let error = self.io_error(error, during);
                        return Err(self.fail(error));
                    }
                }
            };
            self.input.truncate(read);
            if read == 0 {
                return Err(self.fail(GdbError::ConnectionClosed {
                    during: during.into(),
                }));
            }
        }
        let byte = self.input[self.position];
        self.position += 1;
        Ok(byte)
    }

    fn io_error(&self, error: io::Error, during: &str) -> GdbError {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => GdbError::Timeout {
                during: during.into(),
                timeout: self.options.timeout,
            },
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => GdbError::ConnectionClosed {
                during: format!("{during}: {error}"),
            },
            _ => GdbError::Io {
                during: during.into(),
                source: error,
            },
        }
    }
}

fn write_error(request: &[u8], reply: &[u8]) -> GdbError {
    let request = show(&request[..request.len().min(24)]);
    if reply.first() == Some(&b'E') {
        GdbError::ErrorReply {
            request,
            reply: show(reply),
        }
    } else {
        GdbError::Protocol {
            request,
            detail: format!("expected OK, got `{}`", show(reply)),
        }
    }
}
