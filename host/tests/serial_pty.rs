//! The serial source end to end over a pseudo-terminal pair: the real sender's frames are
//! written into the master end, [`SerialSource`] reads the other end, a [`Drain`] relays them
//! into a capturing subscriber; requests come back out of the master end; closing the master
//! ends the drain.
#![cfg(all(unix, feature = "serial"))]

mod receiver_support;

use std::io::{Read, Write};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use receiver_support::*;
use rtt_tunnel_host::pipeline::{ByteSource, Drain, DrainEnd, Pipeline, Pulled};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::serial::SerialSource;
use rtt_tunnel_protocol::Request;
use rtt_tunnel_sender::{Identity, MemoryLink};
use serialport::{SerialPort, TTYPort};
use tracing_core::dispatcher;

static TUNNEL: MemoryTunnel = MemoryTunnel::new();

/// What the firmware traces.
fn firmware() {
    let span = tracing::info_span!("uart", port = 0u32);
    let _entered = span.enter();
    for i in 0..20u32 {
        tracing::info!(i, text = "over the line", "sample");
    }
}

#[test]
fn frames_from_a_pty_are_relayed_requests_go_back_and_a_hang_up_ends_the_drain() {
    TUNNEL
        .connect(
            MemoryLink::new(),
            Identity {
                boot: 1,
                tick_hz: 1_000_000,
                firmware: "serial-test",
            },
        )
        .unwrap();
    dispatcher::with_default(&TUNNEL.dispatch(), firmware);
    let wire = drain(&TUNNEL);
    assert!(wire.len() < 4000, "fits a pseudo-terminal's buffer");

    let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let path = slave.name().unwrap_or_default();
    let mut source = SerialSource::from_port(Box::new(slave), path);

    let (dispatch, log) = capture();
    dispatcher::with_default(&dispatch, || {
        // A pull with nothing there waits for the read timeout and brings nothing.
        let mut nothing = Vec::new();
        assert_eq!(source.pull(&mut nothing).unwrap(), Pulled::Data(0));
        assert!(nothing.is_empty());
        let mut drain = Drain::new(source, Pipeline::new());
        let mut receiver = Receiver::default();

        // A request goes out whole, framed, on the line.
        assert!(drain.request(Request::ResendAll).unwrap());
        let mut request = [0u8; 32];
        let n = Request::ResendAll.encode_frame(&mut request).unwrap();
        let mut echoed = vec![0u8; n];
        master.set_timeout(Duration::from_secs(5)).unwrap();
        master.read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, request[..n]);

        // The frames, in pieces that cut frames anywhere.
        for piece in wire.chunks(7) {
            master.write_all(piece).unwrap();
        }
        master.flush().unwrap();
        let start = Instant::now();
        while drain.stats(&receiver).bytes < wire.len() as u64 {
            assert!(start.elapsed() < Duration::from_secs(10), "the bytes came");
            drain.poll(&mut receiver).unwrap();
        }
        let stats = drain.stats(&receiver);
        assert_eq!(stats.errors(), 0, "{stats}");
        assert_eq!(stats.frames, 1 + 2 + 4 + 20, "{stats}");

        // The other end hangs up: the drain ends.
        drop(master);
        let end = drain.run(&mut receiver, &AtomicBool::new(false)).unwrap();
        assert_eq!(end, DrainEnd::Ended);
    });
    let events = log.events();
    assert_eq!(events.len(), 20, "{events:?}");
    for (i, event) in events.iter().enumerate() {
        let Op::Event { parent, fields, .. } = event else {
            unreachable!("events only")
        };
        assert_eq!(parent.as_deref(), Some("uart#1"));
        assert_eq!(
            fields,
            &vec![
                ("message".to_owned(), Val::Debug("sample".to_owned())),
                ("i".to_owned(), Val::U64(i as u64)),
                ("text".to_owned(), Val::Str("over the line".to_owned())),
            ]
        );
    }
    assert!(log.open_spans().is_empty(), "the span was closed");
}
