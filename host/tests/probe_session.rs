//! The logic `host-receiver --chip` runs, over a simulated probe link: a target memory that is
//! read while the core runs (`halts_in_batch() == false`, as `ProbeMemory` says), so the
//! target can write, reset or re-initialise RTT between any two reads of one poll.
//!
//! What `rtt_tunnel_host::probe` itself does (parsing, the probe-rs calls, error messages) is
//! unit-tested in `src/probe/tests.rs`; the reader's own cases in `src/rtt/tests.rs` and the
//! pipeline's in `tests/session_relay.rs`. These tests cover what is left for issue 6: polling
//! paced for a link that does not halt, a reset between two reads in the middle of a session
//! with blocking mode set, the mode restored however the host leaves (stop flag, error,
//! drop), or not at all when the link died, and a chip that stops answering for a moment
//! (polled again within `RunOptions::retry_for`, the CLI's window for a probe).

mod receiver_support;
mod sim_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use receiver_support::*;
use rtt_tunnel_host::memory::{Access, MemoryError, SimMemory, TargetMemory};
use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET};
use rtt_tunnel_host::rtt::sim::SimRtt;
use rtt_tunnel_host::rtt::{ChannelMode, Pacer, Poll, ResetCause, RttError, RttOptions, RttReader};
use rtt_tunnel_host::session::{RunEnd, RunOptions, Session, SessionError};
use rtt_tunnel_protocol::Parent;
use sim_support::{options, wire};

/// A running target as a probe sees it: RAM, and the firmware's RTT block (up channel 0
/// "Terminal", up channel 1 and down channel 0 "rtt-tunnel", as the real-board examples lay
/// it out), initialised.
fn target() -> (SimMemory, SimRtt) {
    let (memory, rtt) = sim_support::target();
    assert!(!memory.halts_in_batch(), "a probe link does not halt");
    (memory, rtt)
}

/// The channels by name, as the CLI selects them, and the up channel blocking while attached
/// (what a user who must lose nothing asks for).
fn blocking_options() -> RttOptions {
    options().mode(ChannelMode::BlockIfFull)
}

#[test]
fn a_probe_link_is_polled_again_at_once_while_data_comes_and_backs_off_when_idle() {
    let (mut memory, rtt) = target();
    // The firmware writes 100 bytes between two polls, 12 times, then goes quiet.
    let writer = rtt.clone();
    let mut burst = 0u8;
    memory.set_target(move |m| {
        if burst < 12 {
            burst += 1;
            assert_eq!(writer.write_up(m, 1, &[burst; 100]), 100);
        }
    });
    let mut pacer = Pacer::new(memory.halts_in_batch());
    let mut reader = RttReader::new(memory, blocking_options());
    let mut bytes = Vec::new();
    let mut pauses = Vec::new();
    for _ in 0..20 {
        let poll = reader.poll(&mut bytes).unwrap();
        let ring = reader.attachment().map_or(0, |a| a.up.size as usize);
        let n = match poll {
            Poll::Data(n) => n,
            _ => 0,
        };
        pauses.push((n, pacer.next(n, ring)));
    }
    let expected: Vec<u8> = (1..=12u8).flat_map(|b| [b; 100]).collect();
    assert_eq!(bytes, expected);
    // The attach poll brings nothing (the target wrote its first burst before it); while
    // data comes, the next poll follows at once.
    let (busy, idle) = pauses.split_at(12);
    assert!(
        matches!(busy[0], (0, d) if d > Duration::ZERO),
        "{pauses:?}"
    );
    assert!(
        busy[1..]
            .iter()
            .all(|&(n, pause)| n > 0 && pause == Duration::ZERO),
        "{pauses:?}"
    );
    // Quiet: the pause doubles from 200 µs up to the 10 ms ceiling.
    let idle: Vec<Duration> = idle.iter().map(|(_, pause)| *pause).collect();
    assert_eq!(
        idle,
        [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000].map(Duration::from_micros)
    );
}

/// The firmware's events the host relayed (the session's own notices left out), by the
/// call site's name.
fn firmware_events(log: &Log) -> Vec<String> {
    log.events()
        .into_iter()
        .filter_map(|op| match op {
            Op::Event { name, target, .. } if target != RECEIVER_TARGET => Some(name),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reset_between_two_reads_of_a_poll_mid_session_reattaches_and_ends_the_old_boot() {
    let (mut memory, rtt) = target();
    let mut stats = None;
    let log = with_capture(|| {
        let mut session = Session::new(
            RttReader::new(&mut memory, blocking_options()),
            Receiver::default(),
        );
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        assert_eq!(
            rtt.up_mode(session.reader().memory(), 1),
            ChannelMode::BlockIfFull
        );
        let first = wire(boot_inside_spans(1));
        rtt.write_up(session.reader_mut().memory_mut(), 1, &first);
        assert_eq!(session.poll().unwrap(), Poll::Data(first.len()));
        assert_eq!(session.receiver().entered().len(), 2);

        // The old boot writes one more event; the host reads the descriptor and the ring, and
        // before it reads the descriptor again the chip resets: RAM cleared, RTT initialised
        // anew (in its default non-blocking mode), the new boot's first frames written.
        let torn = wire([event(
            0,
            Parent::Current,
            rtt_tunnel_protocol::Values::EMPTY,
        )]);
        rtt.write_up(session.reader_mut().memory_mut(), 1, &torn);
        let reboot = rtt.clone();
        let second = wire(boot_with_event(2));
        let written = second.clone();
        session.reader_mut().memory_mut().before_read(3, move |m| {
            reboot.wipe(m);
            reboot.init(m);
            assert_eq!(reboot.write_up(m, 1, &written), written.len());
        });
        // The second look at the descriptor finds the read offset, which only the host moves,
        // back at 0.
        assert_eq!(
            session.poll().unwrap(),
            Poll::Reset(ResetCause::ReadOffsetMoved {
                expected: first.len() as u32,
                found: 0
            })
        );
        // The torn poll's bytes were dropped, and the new boot's read offset left alone.
        assert_eq!(
            rtt.up_offsets(session.reader().memory(), 1),
            (second.len() as u32, 0)
        );
        // Re-attach: blocking mode again, on the new block.
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        assert_eq!(
            rtt.up_mode(session.reader().memory(), 1),
            ChannelMode::BlockIfFull
        );
        assert_eq!(session.poll().unwrap(), Poll::Data(second.len()));
        assert!(session.receiver().entered().is_empty());
        let closed = session.close();
        closed.restore.unwrap();
        stats = Some(closed.stats);
    });
    // Leaving put the new boot's channel back into its own non-blocking mode.
    assert_eq!(rtt.up_mode(&memory, 1), ChannelMode::NoBlockSkip);
    let stats = stats.unwrap();
    assert_eq!((stats.link_resets, stats.target_resets), (1, 1), "{stats}");
    assert_eq!(
        stats.errors(),
        0,
        "nothing of the torn poll reached the splitter: {stats}"
    );
    // The old boot's spans were exited and closed on the host; only the new boot's event is
    // relayed, not the old boot's torn one.
    assert!(log.unbalanced().is_empty(), "{:?}", log.unbalanced());
    assert!(log.open_spans().is_empty(), "{:?}", log.open_spans());
    assert_eq!(firmware_events(&log), ["event"]);
}

/// Makes the target of `memory` write `bytes` in pieces of 40 while the host is not looking;
/// returns the stop flag (the CLI's Ctrl-C flag), set once it has written them all.
fn write_then_stop(memory: &mut SimMemory, rtt: &SimRtt, bytes: Vec<u8>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut pending = bytes;
    let (writer, flag) = (rtt.clone(), Arc::clone(&stop));
    memory.set_target(move |m| {
        let n = pending.len().min(40);
        let written = writer.write_up(m, 1, &pending[..n]);
        pending.drain(..written);
        if pending.is_empty() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    stop
}

/// A session over `memory` whose target writes `bytes` in pieces of 40 while the host is
/// not looking, then sets `stop` (the CLI's Ctrl-C flag) once it has written them all.
fn run_until_stopped(memory: &mut SimMemory, rtt: &SimRtt, bytes: Vec<u8>) -> RunEnd {
    let stop = write_then_stop(memory, rtt, bytes);
    let mut end = None;
    with_capture(|| {
        let mut session = Session::new(
            RttReader::new(&mut *memory, blocking_options()),
            Receiver::default(),
        );
        end = Some(session.run(&stop, &RunOptions::default()).unwrap());
        assert_eq!(
            rtt.up_mode(session.reader().memory(), 1),
            ChannelMode::BlockIfFull,
            "blocking while attached"
        );
        assert!(session.stats().frames > 0);
        // No close: the session is dropped, as when the CLI returns early.
    });
    end.unwrap()
}

#[test]
fn stopping_with_the_flag_then_dropping_the_session_leaves_the_channel_non_blocking() {
    let (mut memory, rtt) = target();
    let end = run_until_stopped(&mut memory, &rtt, wire(boot_inside_spans(1)));
    assert!(matches!(end, RunEnd::Stopped), "{end:?}");
    assert_eq!(rtt.up_mode(&memory, 1), ChannelMode::NoBlockSkip);
}

/// A probe link whose chip does not answer one read (a transport error that does not mean
/// the link is gone), over a borrowed memory that outlives the session.
struct Hiccup<'a> {
    memory: &'a mut SimMemory,
    /// The read that fails (counting from 1), 0: none.
    fail_at_read: u64,
}

impl TargetMemory for Hiccup<'_> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if self.memory.stats().reads + 1 == self.fail_at_read {
            self.fail_at_read = 0;
            return Err(MemoryError::Access {
                access: Access::Read,
                address,
                len: buf.len(),
                reason: "no answer from the chip (simulated)".into(),
            });
        }
        self.memory.read(address, buf)
    }
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.memory.write(address, data)
    }
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        self.memory.begin_batch()
    }
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        self.memory.end_batch()
    }
}

#[test]
fn a_session_that_fails_mid_run_restores_the_mode_when_dropped() {
    let (mut memory, rtt) = target();
    let writer = rtt.clone();
    memory.set_target(move |m| {
        writer.write_up(m, 1, &[0]);
    });
    // Fail a read a few polls after the attach.
    let reads_to_attach = reads_to_attach();
    let stop = AtomicBool::new(false);
    with_capture(|| {
        let hiccup = Hiccup {
            memory: &mut memory,
            fail_at_read: reads_to_attach + 8,
        };
        let mut session = Session::new(
            RttReader::new(hiccup, blocking_options()),
            Receiver::default(),
        );
        let error = session.run(&stop, &RunOptions::default()).unwrap_err();
        assert!(
            matches!(
                error,
                SessionError::Rtt(RttError::Memory(MemoryError::Access { .. }))
            ),
            "{error}"
        );
        assert!(!error.is_target_gone());
        assert_eq!(
            rtt.up_mode(session.reader().memory().memory, 1),
            ChannelMode::BlockIfFull
        );
        // The CLI returns the error; the session is dropped on the way out.
    });
    assert_eq!(rtt.up_mode(&memory, 1), ChannelMode::NoBlockSkip);
}

/// A chip that does not answer `count` reads in a row, from the `from`-th read the host asks
/// for on (counting from 1): a reset in progress, or a core asleep with its debug port off, as
/// a probe sees it.
struct Silent<'a> {
    memory: &'a mut SimMemory,
    reads: u64,
    from: u64,
    count: u64,
}

impl TargetMemory for Silent<'_> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.reads += 1;
        if self.reads >= self.from && self.reads - self.from < self.count {
            return Err(MemoryError::transport(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the chip does not answer (simulated)",
            )));
        }
        self.memory.read(address, buf)
    }
    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.memory.write(address, data)
    }
    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        self.memory.begin_batch()
    }
    fn end_batch(&mut self) -> Result<(), MemoryError> {
        self.memory.end_batch()
    }
}

/// How many reads attaching to [`target`] takes.
fn reads_to_attach() -> u64 {
    let (mut fresh, _) = target();
    RttReader::new(&mut fresh, blocking_options())
        .attach()
        .map(|_| ())
        .unwrap();
    fresh.stats().reads
}

#[test]
fn a_chip_that_stops_answering_for_a_moment_is_polled_again() {
    let (mut memory, rtt) = target();
    let stop = write_then_stop(&mut memory, &rtt, wire(boot_inside_spans(1)));
    let attach = reads_to_attach();
    let log = with_capture(|| {
        // Five reads in a row fail, right after the attach: two polls or more.
        let silent = Silent {
            memory: &mut memory,
            reads: 0,
            from: attach + 1,
            count: 5,
        };
        let mut session = Session::new(
            RttReader::new(silent, blocking_options()),
            Receiver::default(),
        );
        let options = RunOptions::default().retry_for(Duration::from_secs(30));
        let end = session.run(&stop, &options).unwrap();
        assert!(matches!(end, RunEnd::Stopped), "{end:?}");
        assert!(
            session.reader().memory().reads >= attach + 6,
            "the silence came"
        );
        assert_eq!(session.stats().frames, 9, "everything relayed");
    });
    let warnings = receiver_warnings(&log);
    assert_eq!(warnings.len(), 1, "one warning per silence: {warnings:?}");
    assert!(
        warnings[0].contains("the chip does not answer (simulated); trying again for up to 30s"),
        "{warnings:?}"
    );
    assert!(log.unbalanced().is_empty());
}

#[test]
fn a_chip_silent_for_longer_than_the_retry_window_ends_the_run() {
    let (mut memory, _rtt) = target();
    let stop = AtomicBool::new(false);
    let attach = reads_to_attach();
    with_capture(|| {
        let silent = Silent {
            memory: &mut memory,
            reads: 0,
            from: attach + 2,
            count: u64::MAX,
        };
        let mut session = Session::new(
            RttReader::new(silent, blocking_options()),
            Receiver::default(),
        );
        let window = Duration::from_millis(100);
        let start = std::time::Instant::now();
        let error = session
            .run(&stop, &RunOptions::default().retry_for(window))
            .unwrap_err();
        assert!(start.elapsed() >= window);
        assert!(
            matches!(error, SessionError::Rtt(RttError::Memory(_))),
            "{error}"
        );
        assert!(error.to_string().contains("does not answer"), "{error}");
    });
}
