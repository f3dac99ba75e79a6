//! An in-process GDB server over a [`SimMemory`], on a loopback port, for tests: it behaves
//! like QEMU's gdbstub (acknowledgements, 2 KiB reads, no `X`, memory only while halted) and
//! can be told to misbehave.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::memory::{SimMemory, TargetMemory};

use super::packet::{
    checksum, encode_rle, frame, hex_decode, hex_encode, hex_number, unescape_binary,
};

/// How the fake server behaves. The default is QEMU 7.2's gdbstub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeBehaviour {
    /// The `PacketSize` it announces; reads above half of it get `E22`, as in QEMU.
    pub packet_size: usize,
    /// Offer and honour `QStartNoAckMode`.
    pub offer_no_ack: bool,
    /// Implement `X` (QEMU 7.2 does not).
    pub binary_writes: bool,
    /// Run-length encode replies.
    pub rle: bool,
    /// Send a few bytes of noise before each reply.
    pub noise: bool,
    /// Send the first memory-read reply with a wrong checksum.
    pub bad_checksum_once: bool,
    /// Close the connection after receiving this many packets.
    pub drop_after_packets: Option<usize>,
    /// Answer memory reads with a reply that is not hex.
    pub garbage_reads: bool,
    /// Answer memory reads and writes with this `E nn`.
    pub error_reply: Option<u8>,
    /// Never answer an interrupt.
    pub ignore_interrupt: bool,
    /// Answer an interrupt with `W nn` (the program exited) and close.
    pub exit_on_interrupt: Option<u8>,
    /// The signal in the stop reply to an interrupt (2, SIGINT; 5 says the target had
    /// stopped by itself).
    pub stop_signal: u8,
}

impl Default for FakeBehaviour {
    fn default() -> Self {
        FakeBehaviour {
            packet_size: 0x1000,
            offer_no_ack: false,
            binary_writes: false,
            rle: false,
            noise: false,
            bad_checksum_once: false,
            drop_after_packets: None,
            garbage_reads: false,
            error_reply: None,
            ignore_interrupt: false,
            exit_on_interrupt: None,
            stop_signal: 2,
        }
    }
}

/// What the fake server saw. A packet is in it before the server acknowledges it (in ack
/// mode) or answers it, so a client that has the `+` or the reply finds it here: after a `c`,
/// which has no reply, in no-ack mode only the next answered request vouches for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeLog {
    /// Every packet received, in order (binary payloads lossily as text).
    pub packets: Vec<String>,
    /// Interrupt bytes received while the target ran.
    pub interrupts: u32,
    /// `c` packets received.
    pub resumes: u32,
    /// Packets received while the target ran (QEMU would have misread them).
    pub packets_while_running: u32,
    /// `-` received (the client asked for a reply again).
    pub nacks: u32,
}

/// A GDB server thread on `127.0.0.1`, serving one connection at a time over a shared
/// [`SimMemory`]. The target "runs" between a `c` and an interrupt: the memory's
/// [`run_target`](SimMemory::run_target) is called when it is interrupted. The thread stops
/// when the server is dropped.
pub struct FakeGdbServer {
    address: SocketAddr,
    memory: Arc<Mutex<SimMemory>>,
    log: Arc<Mutex<FakeLog>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeGdbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGdbServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl FakeGdbServer {
    /// Starts a server over `memory` on a free loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound (a test fixture).
    pub fn start(memory: SimMemory, behaviour: FakeBehaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("local address");
        let memory = Arc::new(Mutex::new(memory));
        let log = Arc::new(Mutex::new(FakeLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (memory, log, stop) = (Arc::clone(&memory), Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let mut session = Session {
                                stream,
                                memory: &memory,
                                log: &log,
                                stop: &stop,
                                behaviour: behaviour.clone(),
                                ack_mode: true,
                                running: false,
                                received: 0,
                                pending: Vec::new(),
                            };
                            // A session ends when the client goes or misbehaviour closes it.
                            let _ = session.serve();
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        FakeGdbServer {
            address,
            memory,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The target's memory (lock it briefly: the server thread needs it too).
    ///
    /// # Panics
    /// If the server thread panicked while holding it.
    pub fn memory(&self) -> MutexGuard<'_, SimMemory> {
        self.memory.lock().expect("fake server memory")
    }

    /// What the server saw so far.
    ///
    /// # Panics
    /// If the server thread panicked while holding it.
    pub fn log(&self) -> FakeLog {
        self.log.lock().expect("fake server log").clone()
    }
}

impl Drop for FakeGdbServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Session<'a> {
    stream: TcpStream,
    memory: &'a Mutex<SimMemory>,
    log: &'a Mutex<FakeLog>,
    stop: &'a AtomicBool,
    behaviour: FakeBehaviour,
    ack_mode: bool,
    running: bool,
    received: usize,
    pending: Vec<u8>,
}

/// The session is over.
struct Closed;

impl From<io::Error> for Closed {
    fn from(_: io::Error) -> Self {
        Closed
    }
}

impl Session<'_> {
    fn serve(&mut self) -> Result<(), Closed> {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(20)))?;
        self.stream.set_nodelay(true)?;
        loop {
            let byte = self.byte()?;
            match byte {
                0x03 => {
                    if !self.running {
                        continue; // QEMU ignores it
                    }
                    self.log.lock().unwrap().interrupts += 1;
                    if self.behaviour.ignore_interrupt {
                        continue;
                    }
                    self.memory.lock().unwrap().run_target();
                    self.running = false;
                    if let Some(code) = self.behaviour.exit_on_interrupt {
                        // As QEMU does: the last word, and gone without waiting for its ack.
                        self.stream
                            .write_all(&frame(format!("W{code:02x}").as_bytes()))?;
                        return Err(Closed);
                    }
                    let stop = format!("T{:02x}thread:01;", self.behaviour.stop_signal);
                    self.reply(stop.as_bytes())?;
                }
                b'$' => {
                    let packet = self.packet()?;
                    let Some(packet) = packet else { continue };
                    self.received += 1;
                    {
                        let mut log = self.log.lock().unwrap();
                        log.packets
                            .push(String::from_utf8_lossy(&packet).into_owned());
                        if self.running {
                            log.packets_while_running += 1;
                        }
                        if packet.first() == Some(&b'c') {
                            log.resumes += 1;
                        }
                    }
                    // Acknowledged only once logged: `c` has no reply, its `+` is all the
                    // client waits for before it (or a test) looks.
                    if self.ack_mode {
                        self.stream.write_all(b"+")?;
                    }
                    if Some(self.received) == self.behaviour.drop_after_packets {
                        return Err(Closed);
                    }
                    self.handle(&packet)?;
                }
                b'-' => self.log.lock().unwrap().nacks += 1,
                _ => {}
            }
        }
    }

    fn byte(&mut self) -> Result<u8, Closed> {
        if let Some(byte) = (!self.pending.is_empty()).then(|| self.pending.remove(0)) {
            return Ok(byte);
        }
        let mut byte = [0u8];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(Closed);
            }
            match self.stream.read(&mut byte) {
                Ok(0) => return Err(Closed),
                Ok(_) => return Ok(byte[0]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Err(Closed),
            }
        }
    }

    /// The rest of a packet after `$`, not yet acknowledged; `None` when its checksum was
    /// wrong (nacked).
    fn packet(&mut self) -> Result<Option<Vec<u8>>, Closed> {
        let mut body = Vec::new();
        loop {
            match self.byte()? {
                b'#' => break,
                byte => body.push(byte),
            }
        }
        let sum = [self.byte()?, self.byte()?];
        if hex_number(&sum) != Some(u64::from(checksum(&body))) {
            self.stream.write_all(b"-")?;
            return Ok(None);
        }
        Ok(Some(body))
    }

    fn reply(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.reply_with(payload, false)
    }

    fn reply_with(&mut self, payload: &[u8], corrupt: bool) -> Result<(), Closed> {
        let encoded = if self.behaviour.rle {
            encode_rle(payload)
        } else {
            payload.to_vec()
        };
        let mut framed = frame(&encoded);
        if corrupt {
            let last = framed.len() - 1;
            framed[last] = if framed[last] == b'0' { b'1' } else { b'0' };
        }
        if self.behaviour.noise {
            self.stream.write_all(b"\r\nnoise\x7f")?;
        }
        self.stream.write_all(&framed)?;
        if self.ack_mode {
            // Wait for the client's verdict; a `-` asks for the reply again.
            match self.byte()? {
                b'+' => {}
                b'-' => {
                    self.log.lock().unwrap().nacks += 1;
                    return self.reply_with(payload, false);
                }
                // The next request came without an ack; keep it.
                other => self.pending.push(other),
            }
        }
        Ok(())
    }

    fn handle(&mut self, packet: &[u8]) -> Result<(), Closed> {
        let text = String::from_utf8_lossy(packet).into_owned();
        let reply: Vec<u8> = match packet.first() {
            Some(b'q') if text.starts_with("qSupported") => {
                let mut features = format!("PacketSize={:x}", self.behaviour.packet_size);
                if self.behaviour.offer_no_ack {
                    features.push_str(";QStartNoAckMode+");
                }
                features.into_bytes()
            }
            Some(b'Q') if text == "QStartNoAckMode" && self.behaviour.offer_no_ack => {
                self.reply(b"OK")?;
                self.ack_mode = false;
                return Ok(());
            }
            Some(b'?') => format!("T{:02x}thread:01;", 5).into_bytes(),
            Some(b'c') => {
                self.running = true; // counted in the log on receipt
                return Ok(());
            }
            Some(b'm') => match self.read(&text)? {
                Some(reply) => reply,
                None => return Ok(()),
            },
            Some(b'M') => self.write_hex(&text),
            Some(b'X') if self.behaviour.binary_writes => self.write_binary(packet),
            Some(b'k') => {
                self.reply(b"W00")?;
                return Err(Closed);
            }
            Some(b'D') => {
                self.reply(b"OK")?;
                return Err(Closed);
            }
            _ => Vec::new(),
        };
        self.reply(&reply)
    }

    /// The reply to `m`; `None` when it was sent already.
    fn read(&mut self, text: &str) -> Result<Option<Vec<u8>>, Closed> {
        let Some((address, len)) = address_and_len(&text[1..]) else {
            return Ok(Some(b"E01".to_vec()));
        };
        if self.behaviour.garbage_reads {
            return Ok(Some(b"zz!not hex".to_vec()));
        }
        if let Some(code) = self.behaviour.error_reply {
            return Ok(Some(format!("E{code:02x}").into_bytes()));
        }
        if len > self.behaviour.packet_size / 2 {
            return Ok(Some(b"E22".to_vec()));
        }
        let mut buf = vec![0; len];
        let result = self.memory.lock().unwrap().read(address, &mut buf);
        Ok(Some(match result {
            Ok(()) if std::mem::take(&mut self.behaviour.bad_checksum_once) => {
                // A broken checksum first; the client's `-` gets the good one.
                self.reply_with(&hex_encode(&buf).into_bytes(), true)?;
                return Ok(None);
            }
            Ok(()) => hex_encode(&buf).into_bytes(),
            Err(_) => b"E14".to_vec(),
        }))
    }

    fn write_hex(&mut self, text: &str) -> Vec<u8> {
        let Some((head, hex)) = text[1..].split_once(':') else {
            return b"E01".to_vec();
        };
        let Some((address, len)) = address_and_len(head) else {
            return b"E01".to_vec();
        };
        let mut data = vec![0; len];
        if hex_decode(hex.as_bytes(), &mut data).is_none() {
            return b"E01".to_vec();
        }
        self.store(address, &data)
    }

    fn write_binary(&mut self, packet: &[u8]) -> Vec<u8> {
        let Some(colon) = packet.iter().position(|&b| b == b':') else {
            return b"E01".to_vec();
        };
        let head = String::from_utf8_lossy(&packet[1..colon]).into_owned();
        let Some((address, len)) = address_and_len(&head) else {
            return b"E01".to_vec();
        };
        match unescape_binary(&packet[colon + 1..]) {
            Some(data) if data.len() == len => self.store(address, &data),
            _ => b"E01".to_vec(),
        }
    }

    fn store(&mut self, address: u64, data: &[u8]) -> Vec<u8> {
        if let Some(code) = self.behaviour.error_reply {
            return format!("E{code:02x}").into_bytes();
        }
        match self.memory.lock().unwrap().write(address, data) {
            Ok(()) => b"OK".to_vec(),
            Err(_) => b"E14".to_vec(),
        }
    }
}

fn address_and_len(text: &str) -> Option<(u64, usize)> {
    let (address, len) = text.split_once(',')?;
    Some((
        hex_number(address.as_bytes())?,
        hex_number(len.as_bytes())? as usize,
    ))
}
