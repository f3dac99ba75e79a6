//! The client and `GdbMemory` against the in-process fake server.

// A `Vec` of one RAM range is meant.
#![allow(clippy::single_range_in_vec_init)]

use std::time::Duration;

use super::fake::{FakeBehaviour, FakeGdbServer};
use super::*;
use crate::memory::{batch, MemoryError, SimMemory, TargetMemory};
use crate::rtt::sim::SimRtt;
use crate::rtt::{ChannelMode, ChannelSelector, Poll, RttOptions, RttReader};

const RAM: u64 = 0x2000_0000;
const RAM_SIZE: usize = 0x4000;

fn ram() -> SimMemory {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    for (i, byte) in (0..RAM_SIZE).map(|i| (i, (i * 7 + i / 256) as u8)) {
        memory.poke(RAM + i as u64, &[byte]);
    }
    memory
}

fn expected(address: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let i = (address - RAM) as usize + i;
            (i * 7 + i / 256) as u8
        })
        .collect()
}

fn options() -> GdbOptions {
    GdbOptions {
        timeout: Duration::from_millis(500),
        resume_after_connect: false,
        ..GdbOptions::default()
    }
}

fn connect(server: &FakeGdbServer) -> GdbMemory {
    GdbMemory::connect(server.address(), options()).unwrap()
}

#[test]
fn handshake_like_qemu() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let memory = connect(&server);
    let client = memory.client();
    assert!(client.ack_mode(), "QEMU offers no QStartNoAckMode");
    assert_eq!(client.packet_size(), 0x1000);
    assert_eq!(client.max_read(), 2048);
    assert!(!client.is_running());
    assert_eq!(client.last_stop(), Some(StopReply::Signal(5)));
    assert_eq!(server.log().packets, ["qSupported", "?"]);
}

#[test]
fn no_ack_mode_when_offered() {
    let behaviour = FakeBehaviour {
        offer_no_ack: true,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    assert!(!memory.client().ack_mode());
    let mut buf = [0; 64];
    memory.read(RAM + 100, &mut buf).unwrap();
    assert_eq!(buf.to_vec(), expected(RAM + 100, 64));

    drop(memory);
    let kept = GdbMemory::connect(
        server.address(),
        GdbOptions {
            no_ack: false,
            ..options()
        },
    );
    assert!(
        kept.unwrap().client().ack_mode(),
        "no_ack: false keeps acks"
    );
}

#[test]
fn reads_are_chunked_to_the_packet_size() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut memory = connect(&server);
    let mut buf = vec![0; 5000];
    memory.read(RAM + 3, &mut buf).unwrap();
    assert_eq!(buf, expected(RAM + 3, 5000));
    let reads: Vec<String> = server
        .log()
        .packets
        .into_iter()
        .filter(|p| p.starts_with('m'))
        .collect();
    assert_eq!(reads, ["m20000003,800", "m20000803,800", "m20001003,388"]);

    // A server with a small packet size gets small reads.
    let small = FakeBehaviour {
        packet_size: 256,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), small);
    let mut memory = connect(&server);
    assert_eq!(memory.client().max_read(), 128);
    memory.read(RAM, &mut buf[..300]).unwrap();
    assert_eq!(buf[..300], expected(RAM, 300)[..]);
}

#[test]
fn writes_probe_x_once_then_use_m() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut memory = connect(&server);
    memory.write(RAM, b"#$}*hello").unwrap();
    memory.write_u32(RAM + 16, 0xdead_beef).unwrap();
    assert_eq!(server.memory().peek(RAM, 9), b"#$}*hello");
    assert_eq!(server.memory().peek_u32(RAM + 16), 0xdead_beef);
    let writes: Vec<String> = server
        .log()
        .packets
        .into_iter()
        .filter(|p| p.starts_with(['X', 'M']))
        .map(|p| p.split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(writes, ["X20000000,9", "M20000000,9", "M20000010,4"]);

    let binary = FakeBehaviour {
        binary_writes: true,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), binary);
    let mut memory = connect(&server);
    memory.write(RAM, b"#$}*\x00\xff").unwrap();
    memory.write(RAM + 8, b"again").unwrap();
    assert_eq!(server.memory().peek(RAM, 6), b"#$}*\x00\xff");
    assert_eq!(server.memory().peek(RAM + 8, 5), b"again");
    assert!(server.log().packets.iter().all(|p| !p.starts_with('M')));
}

#[test]
fn run_length_encoding_noise_and_a_bad_checksum_are_survived() {
    let mut memory = ram();
    memory.poke(RAM, &[0; 300]);
    let behaviour = FakeBehaviour {
        rle: true,
        noise: true,
        bad_checksum_once: true,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(memory, behaviour);
    let mut memory = connect(&server);
    let mut buf = vec![1; 300];
    memory.read(RAM, &mut buf).unwrap();
    assert_eq!(buf, vec![0; 300]);
    assert_eq!(memory.client().stats().packets_received, 3);
    assert_eq!(
        server.log().nacks,
        1,
        "the bad checksum was asked for again"
    );
}

#[test]
fn a_batch_halts_once_and_resumes() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut memory = connect(&server);
    memory.client_mut().resume().unwrap();
    for _ in 0..3 {
        let value = batch(&mut memory, |m| {
            let value = m.read_u32(RAM)?;
            m.write_u32(RAM + 4, value)?;
            m.read_u32(RAM + 4)
        })
        .unwrap();
        assert_eq!(value.to_le_bytes().to_vec(), expected(RAM, 4));
    }
    assert!(memory.client().is_running());
    let log = server.log();
    assert_eq!((log.interrupts, log.resumes), (3, 4));
    assert_eq!(log.packets_while_running, 0);
    // Outside a batch, a running target's memory is out of reach.
    let error = memory.read_u32(RAM).unwrap_err();
    assert!(error.to_string().contains("running"), "{error}");
}

#[test]
fn a_halted_target_stays_halted_through_a_batch() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut memory = connect(&server);
    batch(&mut memory, |m| m.read_u32(RAM)).unwrap();
    assert!(!memory.client().is_running());
    assert_eq!(server.log().resumes, 0);
}

#[test]
fn a_target_that_stopped_by_itself_is_not_resumed() {
    let behaviour = FakeBehaviour {
        stop_signal: 5,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    memory.client_mut().resume().unwrap();
    batch(&mut memory, |m| m.read_u32(RAM)).unwrap();
    assert_eq!(memory.target_stop(), Some(StopReply::Signal(5)));
    assert!(!memory.client().is_running());
    batch(&mut memory, |m| m.read_u32(RAM)).unwrap();
    assert_eq!(server.log().resumes, 1, "only the first resume");
}

#[test]
fn error_replies_are_access_errors_and_the_link_stays_up() {
    let behaviour = FakeBehaviour {
        error_reply: Some(0x14),
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    let error = memory.read_u32(0x4000_0000).unwrap_err();
    match &error {
        MemoryError::Access {
            address, reason, ..
        } => {
            assert_eq!(*address, 0x4000_0000);
            assert!(reason.contains("E14"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.is_target_gone());
    let error = memory.write_u32(RAM, 1).unwrap_err();
    assert!(matches!(error, MemoryError::Access { .. }), "{error}");
    // An unmapped address on a well-behaved server is an error reply too.
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut memory = connect(&server);
    let error = memory.read_u32(0x4000_0000).unwrap_err();
    assert!(error.to_string().contains("E14"), "{error}");
    assert_eq!(
        memory.read_u32(RAM).unwrap().to_le_bytes().to_vec(),
        expected(RAM, 4)
    );
}

#[test]
fn a_read_too_large_for_the_server_is_its_error() {
    // A server that announces a big packet but refuses big reads (QEMU's E22 limit).
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut client = GdbClient::connect(
        server.address(),
        GdbOptions {
            max_read: 4096,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(client.max_read(), 2048, "PacketSize still caps the read");
    let mut buf = vec![0; 2048];
    client.read_memory(RAM, &mut buf).unwrap();
}

#[test]
fn garbage_replies_are_protocol_errors() {
    let behaviour = FakeBehaviour {
        garbage_reads: true,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    let error = memory.read_u32(RAM).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("malformed answer to `m20000000,4`"),
        "{message}"
    );
    assert!(message.contains("zz!not hex"), "{message}");
    assert!(!error.is_target_gone());
}

#[test]
fn a_dropped_connection_is_disconnected_and_stays_so() {
    let behaviour = FakeBehaviour {
        drop_after_packets: Some(3),
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    // Packet 3 is this read: the server closes instead of answering.
    let error = memory.read_u32(RAM).unwrap_err();
    assert!(error.is_target_gone(), "{error}");
    assert!(
        error.to_string().contains("closed the connection"),
        "{error}"
    );
    let again = memory.read_u32(RAM).unwrap_err();
    assert!(again.is_target_gone(), "{again}");
    assert!(again.to_string().contains("unusable"), "{again}");
    assert!(memory.begin_batch().is_ok(), "not running: nothing to halt");
    assert!(memory.end_batch().is_ok());
}

#[test]
fn an_exit_while_running_is_reported_with_its_code() {
    let behaviour = FakeBehaviour {
        exit_on_interrupt: Some(3),
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = connect(&server);
    memory.client_mut().resume().unwrap();
    let error = batch(&mut memory, |m| m.read_u32(RAM)).unwrap_err();
    assert!(
        matches!(error, MemoryError::TargetExited { code: 3 }),
        "{error}"
    );
    assert!(error.is_target_gone());
    assert!(memory.read_u32(RAM).unwrap_err().is_target_gone());
}

#[test]
fn a_server_that_never_stops_the_target_times_out() {
    let behaviour = FakeBehaviour {
        ignore_interrupt: true,
        ..FakeBehaviour::default()
    };
    let server = FakeGdbServer::start(ram(), behaviour);
    let mut memory = GdbMemory::connect(
        server.address(),
        GdbOptions {
            timeout: Duration::from_millis(100),
            ..options()
        },
    )
    .unwrap();
    memory.client_mut().resume().unwrap();
    let error = memory.begin_batch().unwrap_err();
    assert!(matches!(error, MemoryError::Timeout { .. }), "{error}");
    assert!(
        error.to_string().contains("waiting for the target to stop"),
        "{error}"
    );
}

#[test]
fn connecting_to_nothing_says_what_to_check() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = GdbClient::connect(("127.0.0.1", port), options()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("is the server running"), "{message}");
}

#[test]
fn kill_and_detach_end_the_session() {
    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut client = GdbClient::connect(server.address(), options()).unwrap();
    client.kill().unwrap();
    assert!(client
        .read_memory(RAM, &mut [0; 4])
        .unwrap_err()
        .is_disconnected());

    let server = FakeGdbServer::start(ram(), FakeBehaviour::default());
    let mut client = GdbClient::connect(server.address(), options()).unwrap();
    client.resume().unwrap();
    client.detach().unwrap();
    assert_eq!(server.log().packets.last().map(String::as_str), Some("D"));
}

/// The RTT reader over the GDB transport, the target writing between halts: every byte
/// arrives, in order, and every poll is one halt.
#[test]
fn rtt_reader_drains_a_running_target_through_gdb() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(RAM + 0x100)
        .up("Terminal", 32)
        .up("tracing", 100)
        .down("requests", 16)
        .build(&mut memory);
    rtt.init(&mut memory);
    let stream: Vec<u8> = (0..5000u32).map(|i| (i * 13 + i / 97) as u8).collect();
    let writer = rtt.clone();
    let source = stream.clone();
    let mut sent = 0;
    let mut step = 0;
    memory.set_target(move |m| {
        step += 1;
        let piece = (step * 37) % 150 + 1;
        let end = (sent + piece).min(source.len());
        sent += writer.write_up(m, 1, &source[sent..end]);
    });
    let server = FakeGdbServer::start(memory, FakeBehaviour::default());
    let gdb = GdbMemory::connect(
        server.address(),
        GdbOptions {
            resume_after_connect: true,
            ..options()
        },
    )
    .unwrap();
    let options = RttOptions::at(RAM + 0x100)
        .ram(vec![RAM..RAM + RAM_SIZE as u64])
        .up_channel(ChannelSelector::name("tracing"))
        .down_channel(ChannelSelector::name("requests"))
        .mode(ChannelMode::NoBlockTrim);
    let mut reader = RttReader::new(gdb, options);
    let mut received = Vec::new();
    let mut polls = 0;
    while received.len() < stream.len() {
        polls += 1;
        assert!(polls < 10_000, "stuck after {} bytes", received.len());
        match reader.poll(&mut received).unwrap() {
            Poll::Data(_) | Poll::Attached(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, stream);
    assert_eq!(reader.write_down(b"hello").unwrap(), 5);
    reader.close().unwrap();
    let gdb_stats = reader.memory().client().stats();
    let log = server.log();
    assert_eq!(log.packets_while_running, 0);
    assert_eq!(
        u64::from(log.interrupts),
        reader.stats().polls + 2,
        "one halt per poll, write, close"
    );
    assert_eq!(gdb_stats.interrupts, u64::from(log.interrupts));
    assert_eq!(rtt.read_down(&mut server.memory(), 0), b"hello");
    assert_eq!(
        rtt.up_mode(&server.memory(), 1),
        ChannelMode::NoBlockSkip,
        "restored on close"
    );
}
