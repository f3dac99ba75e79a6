//! The drain pipeline end to end without hardware: frames (the real sender's, or built by
//! hand) go into a simulated target's RTT ring; a `Session` drains, splits, decodes and relays
//! them; a capture of the run replays to the same output.

mod receiver_support;
mod sim_support;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use receiver_support::*;
use rtt_tunnel_host::capture::{replay, CaptureReader, CaptureWriter, Record};
use rtt_tunnel_host::memory::{MemoryError, SimMemory, TargetMemory};
use rtt_tunnel_host::output::Format;
use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET};
use rtt_tunnel_host::rtt::sim::SimRtt;
use rtt_tunnel_host::rtt::{Poll, RttError, RttOptions, RttReader};
use rtt_tunnel_host::session::{RunEnd, RunOptions, Session, SessionError, SessionStats};
use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, LevelFilter, Parent, Request};
use rtt_tunnel_sender::{Identity, MemoryLink};
use sim_support::{options, output, ram, target, wire, SharedBuf};

fn session(memory: SimMemory) -> Session<SimMemory> {
    let mut session = Session::new(RttReader::new(memory, options()), Receiver::default());
    assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
    session
}

/// The target writes `bytes` into its ring; the host polls until they are relayed, in pieces
/// of at most `piece` bytes (so frames are cut across polls).
fn send(session: &mut Session<SimMemory>, rtt: &SimRtt, bytes: &[u8], piece: usize) {
    for chunk in bytes.chunks(piece) {
        let written = rtt.write_up(session.reader_mut().memory_mut(), 1, chunk);
        assert_eq!(written, chunk.len(), "the ring is full");
        match session.poll().unwrap() {
            Poll::Data(n) => assert_eq!(n, chunk.len()),
            other => panic!("expected data, got {other:?}"),
        }
    }
}

/// The target resets (RAM wiped, RTT initialised again); the host sees the reset, then
/// attaches to the new block.
fn reset(session: &mut Session<SimMemory>, rtt: &SimRtt) {
    let memory = session.reader_mut().memory_mut();
    rtt.wipe(memory);
    rtt.init(memory);
    assert!(matches!(session.poll().unwrap(), Poll::Reset(_)));
    assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
}

static TUNNEL: MemoryTunnel = MemoryTunnel::new();

/// The real sender's frames for some ordinary tracing code.
fn sender_wire() -> Vec<u8> {
    TUNNEL
        .connect(
            MemoryLink::new(),
            Identity {
                boot: 3,
                tick_hz: 1_000,
                firmware: "session-test 0.1",
            },
        )
        .unwrap();
    tracing_core::dispatcher::with_default(&TUNNEL.dispatch(), || {
        let outer = tracing::info_span!("outer", a = 3u32).entered();
        tracing::info!(n = 5u64, "hello {}", 42);
        {
            let _inner = tracing::debug_span!("inner").entered();
            tracing::warn!(x = -1i64, "inside");
        }
        drop(outer);
        tracing::error!("after");
    });
    drain(&TUNNEL)
}

fn event_messages(log: &Log) -> Vec<String> {
    log.events()
        .into_iter()
        .filter_map(|op| match op {
            Op::Event { target, fields, .. } if target != RECEIVER_TARGET => {
                fields.into_iter().find_map(|(name, value)| match value {
                    Val::Debug(text) | Val::Str(text) if name == "message" => Some(text),
                    _ => None,
                })
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_real_senders_frames_are_relayed_across_polls() {
    let wire = sender_wire();
    let (memory, rtt) = target();
    let mut stats = SessionStats::default();
    let log = with_capture(|| {
        let mut session = session(memory);
        // 7-byte pieces: most frames are cut across two or three polls.
        send(&mut session, &rtt, &wire, 7);
        let boot = session.receiver().boot().unwrap();
        assert_eq!(
            (boot.boot, boot.tick_hz, boot.firmware.as_str()),
            (3, 1_000, "session-test 0.1")
        );
        stats = session.stats();
        let closed = session.close();
        closed.restore.unwrap();
    });
    assert_eq!(stats.bytes, wire.len() as u64);
    assert_eq!(stats.errors(), 0, "{stats}");
    assert_eq!((stats.link_resets, stats.target_resets), (0, 0));
    // Hello, 4 call sites of events, 2 of spans, 2 spans with enter/exit/close, 4 events.
    assert!(stats.frames >= 17, "{stats}");
    assert_eq!(
        event_messages(&log),
        ["hello 42", "inside", "after"].map(String::from)
    );
    let events: Vec<Op> = log
        .events()
        .into_iter()
        .filter(|op| matches!(op, Op::Event { target, .. } if target != RECEIVER_TARGET))
        .collect();
    assert_eq!(
        event_parents(&events),
        vec![Some("outer#1".into()), Some("inner#1".into()), None]
    );
    assert!(log.unbalanced().is_empty());
    assert!(log.open_spans().is_empty());
    // Target time: the sender's clock, at 1 kHz.
    let Op::Event { time, .. } = &events[0] else {
        unreachable!()
    };
    let time = time.expect("a target time");
    assert!(
        time.ticks > 0 && time.tick_hz.unwrap().get() == 1_000,
        "{time:?}"
    );
}

#[test]
fn garbage_in_the_ring_is_counted_reported_and_the_stream_goes_on() {
    let (memory, rtt) = target();
    let mut stats = SessionStats::default();
    let log = with_capture(|| {
        let mut session = session(memory);
        let mut bytes = wire(standard_preamble(1));
        // Not COBS: a code byte that points past the delimiter.
        bytes.extend_from_slice(&[0x09, 0x01, 0x00]);
        // Valid COBS that is no message: tag 200.
        bytes.extend_from_slice(&[0x03, 0x02, 0xc8, 0x00]);
        // A message the receiver refuses: an event of an unknown call site.
        bytes.extend(wire([event(
            42,
            Parent::Current,
            rtt_tunnel_protocol::Values::EMPTY,
        )]));
        // More than MAX_FRAME bytes without a delimiter.
        bytes.extend(std::iter::repeat_n(0x55, 5000));
        bytes.push(0);
        let vals = Vals::new(&[(0, rtt_tunnel_protocol::Value::Str("still here"))]);
        let mut after = Vec::new();
        let mut buf = [0u8; 128];
        let n = Frame {
            exception: 0,
            dt: 1,
            message: event(0, Parent::Current, vals.values()),
        }
        .encode(&mut buf)
        .unwrap();
        after.extend_from_slice(&buf[..n]);
        bytes.extend(after);
        send(&mut session, &rtt, &bytes, 1000);
        stats = session.stats();
    });
    assert_eq!(
        (
            stats.frame_errors,
            stats.decode_errors,
            stats.receive_errors
        ),
        (2, 1, 1),
        "{stats}"
    );
    let warnings = receiver_warnings(&log);
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    assert!(
        warnings[0].contains("not a valid COBS frame"),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("did not decode"), "{warnings:#?}");
    assert!(
        warnings[2].contains("unknown call site 42"),
        "{warnings:#?}"
    );
    assert!(
        warnings[3].contains("more than the frame buffer"),
        "{warnings:#?}"
    );
    assert_eq!(event_messages(&log), ["still here"]);
}

#[test]
fn a_reset_mid_stream_force_exits_the_entered_spans_and_restarts_the_splitter() {
    let (memory, rtt) = target();
    let mut stats = SessionStats::default();
    let log = with_capture(|| {
        let mut session = session(memory);
        send(&mut session, &rtt, &wire(boot_inside_spans(1)), 1000);
        assert_eq!(session.receiver().entered().len(), 2);
        // Half a frame, then the target resets: RAM is wiped, RTT initialised again.
        let vals = Vals::new(&[(0, rtt_tunnel_protocol::Value::Str("cut by the reset"))]);
        let mut buf = [0u8; 128];
        let n = Frame {
            exception: 0,
            dt: 1,
            message: event(0, Parent::Current, vals.values()),
        }
        .encode(&mut buf)
        .unwrap();
        send(&mut session, &rtt, &buf[..n / 2], 1000);
        reset(&mut session, &rtt);
        // The new boot.
        send(&mut session, &rtt, &wire(boot_with_event(2)), 1000);
        assert!(session.receiver().entered().is_empty());
        stats = session.stats();
    });
    assert_eq!((stats.link_resets, stats.target_resets), (1, 1), "{stats}");
    // The half frame was discarded with the old boot, not glued to the new one.
    assert_eq!(stats.errors(), 0, "{stats}");
    assert!(log.unbalanced().is_empty(), "{:?}", log.unbalanced());
    assert!(log.open_spans().is_empty(), "{:?}", log.open_spans());
    let reset_warning = receiver_warnings(&log);
    assert!(
        reset_warning.iter().any(|w| w.contains("target reset")),
        "{reset_warning:#?}"
    );
}

#[test]
fn a_capture_replays_to_the_same_output() {
    let (memory, rtt) = target();
    let file = SharedBuf::default();
    let (live, live_out) = output(Format::Compact);
    let live_stats = tracing_core::dispatcher::with_default(&live, || {
        let capture = CaptureWriter::new(file.clone()).unwrap();
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .with_capture(capture);
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        send(&mut session, &rtt, &wire(boot_inside_spans(1)), 13);
        send(&mut session, &rtt, &[0x09, 0x01, 0x00], 13);
        reset(&mut session, &rtt);
        send(&mut session, &rtt, &wire(boot_with_event(2)), 13);
        session.close().stats
    });

    let bytes = file.bytes();
    let records: Vec<Record> = CaptureReader::new(&bytes[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let boots: Vec<u32> = records
        .iter()
        .filter_map(|r| match r {
            Record::Boot(info) => Some(info.boot),
            _ => None,
        })
        .collect();
    assert_eq!(boots, [1, 2], "one boot record per boot");
    assert_eq!(
        records
            .iter()
            .filter(|r| matches!(r, Record::Reset { .. }))
            .count(),
        1
    );

    let (replayed, replay_out) = output(Format::Compact);
    let replay_stats = tracing_core::dispatcher::with_default(&replayed, || {
        let mut receiver = Receiver::default();
        let mut reader = CaptureReader::new(&bytes[..]).unwrap();
        replay(&mut reader, &mut receiver).unwrap()
    });
    assert_eq!(replay_stats, live_stats);
    assert_eq!(live_stats.frame_errors, 1);
    let (live_text, replay_text) = (live_out.text(), replay_out.text());
    // The live run also says where it attached: the rest is the same, line for line.
    let relayed = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains("attached to the RTT control block"))
            .map(String::from)
            .collect()
    };
    assert_eq!(relayed(&live_text), relayed(&replay_text));
    assert!(replay_text.contains("target reset"), "{replay_text}");
    assert!(replay_text.contains("0.000001s"), "{replay_text}");

    // A capture cut in the middle of a record replays up to there.
    let cut = &bytes[..bytes.len() - 3];
    let stats = tracing_core::dispatcher::with_default(&output(Format::Compact).0, || {
        let mut receiver = Receiver::default();
        replay(&mut CaptureReader::new(cut).unwrap(), &mut receiver).unwrap()
    });
    assert!(stats.frames < live_stats.frames);
}

/// The target reads its down channel into `down`; returns the whole requests in it.
fn requests_in(rtt: &SimRtt, memory: &mut SimMemory, down: &mut Vec<u8>) -> Vec<Request> {
    down.extend(rtt.read_down(memory, 0));
    let mut splitter = FrameSplitter::<64>::new();
    let mut input = &down[..];
    let mut out = Vec::new();
    loop {
        match splitter.feed(input) {
            Feed::Consumed => break,
            Feed::Frame { frame, rest } => {
                out.push(Request::decode(frame).unwrap());
                input = rest;
            }
            Feed::Error { error, .. } => panic!("{error}"),
        }
    }
    // Keep the bytes of a frame not yet whole.
    let used = down.len() - input.len();
    down.drain(..used);
    out
}

#[test]
fn requests_go_out_at_every_attach_and_wait_for_room() {
    let (memory, rtt) = target();
    let mut down = Vec::new();
    with_capture(|| {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .on_attach([Request::ResendAll, Request::SetLevel(LevelFilter::Debug)]);
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        assert_eq!(
            requests_in(&rtt, session.reader_mut().memory_mut(), &mut down),
            [Request::ResendAll, Request::SetLevel(LevelFilter::Debug)]
        );
        // The 16-byte down ring holds 15 bytes: three SetLevel frames (4 bytes each) fit,
        // the fourth only in part; the rest waits until the target has read.
        for _ in 0..3 {
            assert!(session
                .request(Request::SetLevel(LevelFilter::Info))
                .unwrap());
        }
        assert!(!session
            .request(Request::SetLevel(LevelFilter::Warn))
            .unwrap());
        assert_eq!(session.pending_request_bytes(), 1);
        assert_eq!(
            requests_in(&rtt, session.reader_mut().memory_mut(), &mut down),
            [Request::SetLevel(LevelFilter::Info); 3]
        );
        session.poll().unwrap();
        assert_eq!(session.pending_request_bytes(), 0);
        assert_eq!(
            requests_in(&rtt, session.reader_mut().memory_mut(), &mut down),
            [Request::SetLevel(LevelFilter::Warn)]
        );
        // After a reset, the attach requests go out again. (The link sees the reset by the
        // read offset, which the host had moved.)
        send(&mut session, &rtt, &wire(standard_preamble(1)), 1000);
        reset(&mut session, &rtt);
        assert_eq!(
            requests_in(&rtt, session.reader_mut().memory_mut(), &mut down),
            [Request::ResendAll, Request::SetLevel(LevelFilter::Debug)]
        );
    });

    // Without a down channel, a request is an error that says what to pass.
    let (memory, _rtt) = target();
    let up_only = RttOptions {
        down: None,
        ..options()
    };
    let mut session = Session::new(RttReader::new(memory, up_only), Receiver::default());
    let error = session.request(Request::ResendAll).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no RTT down channel was selected"),
        "{error}"
    );
}

/// A memory whose target exits (as a GDB server reports it) after `batches` batches.
struct ExitingTarget {
    sim: SimMemory,
    batches: u32,
    code: i32,
}

impl TargetMemory for ExitingTarget {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.sim.read(address, buf)
    }
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.sim.write(address, data)
    }
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        if self.batches == 0 {
            return Err(MemoryError::TargetExited { code: self.code });
        }
        self.batches -= 1;
        self.sim.begin_batch()
    }
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        self.sim.end_batch()
    }
    fn halts_in_batch(&self) -> bool {
        true
    }
}

#[test]
fn run_ends_with_the_exit_code_and_everything_relayed() {
    let (mut sim, rtt) = target();
    // The target writes its frames while the host is not looking, a few per batch.
    let mut pending = wire(boot_inside_spans(1));
    sim.set_target(move |memory| {
        let n = pending.len().min(40);
        let written = rtt.write_up(memory, 1, &pending[..n]);
        pending.drain(..written);
    });
    let memory = ExitingTarget {
        sim,
        batches: 30,
        code: 3,
    };
    let stop = AtomicBool::new(false);
    let log = with_capture(|| {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default());
        match session.run(&stop, &RunOptions::default()).unwrap() {
            RunEnd::Exited(3) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(session.stats().frames, 9);
        let closed = session.close();
        let error = closed.restore.unwrap_err();
        assert!(error.is_target_gone(), "{error}");
    });
    // The receiver's drop closed the spans the target left entered.
    assert!(log.unbalanced().is_empty());
    assert!(log.open_spans().is_empty());
}

#[test]
fn run_stops_on_the_flag_and_a_lost_link_is_gone() {
    let (memory, _rtt) = target();
    let stop = AtomicBool::new(true);
    with_capture(|| {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default());
        assert!(matches!(
            session.run(&stop, &RunOptions::default()).unwrap(),
            RunEnd::Stopped
        ));
    });

    let (mut memory, _rtt) = target();
    memory.disconnect_after(50);
    let stop = AtomicBool::new(false);
    with_capture(|| {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default());
        match session.run(&stop, &RunOptions::default()).unwrap() {
            RunEnd::Gone(error) => {
                assert!(error.to_string().contains("lost"), "{error}")
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn no_control_block_within_the_attach_timeout_says_what_to_do() {
    let memory = ram();
    let stop = AtomicBool::new(false);
    let options = RunOptions::default().attach_timeout(Some(Duration::from_millis(50)));
    with_capture(|| {
        let mut session =
            Session::new(RttReader::new(memory, self::options()), Receiver::default());
        let error = session.run(&stop, &options).unwrap_err();
        assert!(
            matches!(error, SessionError::Rtt(RttError::NotFound { .. })),
            "{error}"
        );
        assert!(
            error.to_string().contains("is the sender initialised"),
            "{error}"
        );
    });
}
