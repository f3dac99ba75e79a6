//! The byte sources of the pipeline besides the serial port: the RTT reader over target
//! memory (a simulated target) and a capture file, each drained by a [`Drain`] through a
//! [`Pipeline`] into the receiver.

mod receiver_support;
mod sim_support;

use std::sync::atomic::AtomicBool;

use receiver_support::*;
use rtt_tunnel_host::capture::{replay, CaptureReader, CaptureSource, CaptureWriter};
use rtt_tunnel_host::pipeline::{Drain, DrainEnd, Pipeline, Pulled};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::rtt::RttReader;
use rtt_tunnel_protocol::{Message, Parent, Request, Value};
use sim_support::{options, target, wire};
use tracing_core::dispatcher;

/// Index of the "rtt-tunnel" up channel in [`target`].
const UP: usize = 1;

/// The preamble of boot 1, then `message`, as the target writes them.
fn stream(message: Message<'_>) -> Vec<u8> {
    wire(standard_preamble(1).into_iter().chain([message]))
}

#[test]
fn an_rtt_reader_is_a_byte_source_with_requests_and_resets() {
    let (memory, rtt) = target();
    let mut drain = Drain::new(RttReader::new(memory, options()), Pipeline::new());
    let (dispatch, log) = capture();
    dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        // The first pull attaches: no bytes yet.
        assert_eq!(drain.poll(&mut receiver).unwrap(), Pulled::Data(0));

        // A request goes down the RTT down channel, framed.
        assert!(drain.request(Request::ResendAll).unwrap());
        let mut frame = [0u8; 32];
        let n = Request::ResendAll.encode_frame(&mut frame).unwrap();
        let reader = drain.source_mut();
        assert_eq!(rtt.read_down(reader.memory_mut(), 0), frame[..n]);

        // Frames the target writes are relayed.
        let n7 = Vals::new(&[(1, Value::U64(7))]);
        let bytes = stream(event(0, Parent::Current, n7.values()));
        let reader = drain.source_mut();
        assert_eq!(rtt.write_up(reader.memory_mut(), UP, &bytes), bytes.len());
        assert_eq!(
            drain.poll(&mut receiver).unwrap(),
            Pulled::Data(bytes.len())
        );
        let stats = drain.stats(&receiver);
        assert_eq!((stats.frames, stats.errors()), (6, 0), "{stats}");

        // The control block vanishes (the target reset): the source says so.
        let reader = drain.source_mut();
        rtt.wipe(reader.memory_mut());
        assert!(matches!(
            drain.poll(&mut receiver).unwrap(),
            Pulled::Reset(_)
        ));
        assert_eq!(drain.stats(&receiver).link_resets, 1);
    });
    let events = log.events();
    assert!(
        events.iter().any(|op| matches!(op,
            Op::Event { fields, .. } if fields.contains(&("n".to_owned(), Val::U64(7))))),
        "{events:?}"
    );
}

#[test]
fn a_capture_source_relays_what_replay_relays() {
    let n = Vals::new(&[(1, Value::U64(3))]);
    let first = stream(event(0, Parent::Current, n.values()));
    let second = wire(boot_with_event(2));
    let mut writer = CaptureWriter::new(Vec::new()).unwrap();
    // A frame cut across two records, a reset the link saw, the next boot.
    let (head, tail) = first.split_at(first.len() / 2);
    writer.write_data(head).unwrap();
    writer.write_data(tail).unwrap();
    writer.write_reset("the control block vanished").unwrap();
    writer.write_data(&second).unwrap();
    let file = writer.into_inner();

    let (dispatch, replayed) = capture();
    let replay_stats = dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        replay(&mut CaptureReader::new(&file[..]).unwrap(), &mut receiver).unwrap()
    });

    let (dispatch, drained) = capture();
    let drain_stats = dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        let source = CaptureSource::new(CaptureReader::new(&file[..]).unwrap());
        let mut drain = Drain::new(source, Pipeline::new());
        let end = drain.run(&mut receiver, &AtomicBool::new(false)).unwrap();
        assert_eq!(end, DrainEnd::Ended);
        drain.stats(&receiver)
    });

    assert_eq!(drain_stats, replay_stats);
    assert_eq!(drain_stats.link_resets, 1);
    assert_eq!(drain_stats.errors(), 0, "{drain_stats}");
    assert_eq!(drained.ops(), replayed.ops());
    assert!(!drained.events().is_empty());
}
