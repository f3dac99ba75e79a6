//! Exact frame sequences of spans and events, ref counting, ids, every Subscriber method.

use std::vec::Vec;

use tracing_core::span::Id;
use tracing_core::{Level, LevelFilter, Subscriber};

use super::{set_now, Target};
use crate::spans::UNTRACKED_ID;

#[test]
fn connect_writes_hello_with_ticks_since_boot() {
    let t = <Target>::new();
    assert_eq!(
        t.frames(),
        ["+1000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0"]
    );
    assert_eq!(
        t.tunnel.connect(super::SealingLink::new(), super::IDENTITY),
        Err(crate::InitError::AlreadyConnected)
    );
    assert_eq!(t.tunnel.stats().frames_written, 1);
}

#[test]
fn an_event_announces_its_call_site_once() {
    let t = <Target>::started();
    set_now(1010);
    t.run(|| {
        for i in 0..2u32 {
            tracing::info!(i, "tick");
            set_now(1015);
        }
    });
    assert_eq!(
        t.frames(),
        [
            "+10 callsite 0 Event Info event [message,i]",
            "+0 event cs0 current 0=`tick` 1=0u",
            "+5 event cs0 current 0=`tick` 1=1u",
        ]
    );
}

#[test]
fn call_site_announcement_carries_the_metadata() {
    let t = <Target>::started();
    let line = line!() + 2;
    t.run(|| {
        tracing::debug!(target: "my_target", answer = 42, "hello");
    });
    let bytes = t.drain();
    let mut splitter = rtt_tunnel_protocol::FrameSplitter::<512>::new();
    let rtt_tunnel_protocol::Feed::Frame { frame, .. } = splitter.feed(&bytes) else {
        panic!("no frame")
    };
    let frame = rtt_tunnel_protocol::Frame::decode(frame).unwrap();
    let rtt_tunnel_protocol::Message::CallSite(c) = frame.message else {
        panic!("not a call site: {frame:?}")
    };
    assert_eq!(c.id, rtt_tunnel_protocol::CallsiteId(0));
    assert_eq!(c.kind, rtt_tunnel_protocol::Kind::Event);
    assert_eq!(c.level, rtt_tunnel_protocol::Level::Debug);
    assert_eq!(c.name, std::format!("event {}:{line}", file!()));
    assert_eq!(c.target, "my_target");
    assert_eq!(c.module_path, Some(module_path!()));
    assert_eq!(c.file, Some(file!()));
    assert_eq!(c.line, Some(line));
    assert_eq!(c.fields.iter().collect::<Vec<_>>(), ["message", "answer"]);
}

#[test]
fn a_span_from_creation_to_close() {
    let t = <Target>::started();
    set_now(2000);
    t.run(|| {
        let span = tracing::info_span!("outer", a = 1u8);
        set_now(2001);
        let entered = span.enter();
        tracing::warn!("inside");
        drop(entered);
        set_now(2003);
        drop(span);
    });
    assert_eq!(
        t.frames(),
        [
            "+1000 callsite 0 Span Info outer [a]",
            "+0 new 1 cs0 current 0=1u",
            "+1 enter 1",
            "+0 callsite 1 Event Warn event [message]",
            "+0 event cs1 current 0=`inside`",
            "+0 exit 1",
            "+2 close 1",
        ]
    );
}

#[test]
fn parents_records_and_follows_from() {
    let t = <Target>::started();
    set_now(1100);
    t.run(|| {
        let a = tracing::info_span!("a");
        let _in_a = a.enter();
        let b = tracing::info_span!("b", x = tracing::field::Empty);
        let c = tracing::info_span!(parent: None, "c");
        let d = tracing::info_span!(parent: &b, "d");
        b.record("x", -5i64);
        d.follows_from(&c);
        tracing::info!(parent: &d, "e1");
        tracing::info!(parent: None, "e2");
        // Dropped in reverse order: d, c, b, the guard of a, a.
    });
    assert_eq!(
        t.frames(),
        [
            "+100 callsite 0 Span Info a []",
            "+0 new 1 cs0 current",
            "+0 enter 1",
            "+0 callsite 1 Span Info b [x]",
            "+0 new 2 cs1 current",
            "+0 callsite 2 Span Info c []",
            "+0 new 3 cs2 root",
            "+0 callsite 3 Span Info d []",
            "+0 new 4 cs3 parent=2",
            "+0 record 2 0=-5i",
            "+0 follows 4 3",
            "+0 callsite 4 Event Info event [message]",
            "+0 event cs4 parent=4 0=`e1`",
            "+0 callsite 5 Event Info event [message]",
            "+0 event cs5 root 0=`e2`",
            "+0 close 4",
            "+0 close 3",
            "+0 close 2",
            "+0 exit 1",
            "+0 close 1",
        ]
    );
}

#[test]
fn references_are_counted_and_only_the_last_close_is_sent() {
    let t = <Target>::started();
    let s = t.sender();
    t.run(|| {
        let span = tracing::info_span!("counted");
        let id = span.id().unwrap();
        assert_eq!(s.clone_span(&id), id);
        let clone = span.clone();
        drop(span);
        drop(clone);
        assert_eq!(
            t.frames(),
            ["+0 callsite 0 Span Info counted []", "+0 new 1 cs0 current"]
        );
        assert!(s.try_close(id.clone()), "the last reference closes it");
        assert!(!s.try_close(id), "a stale id closes nothing");
    });
    assert_eq!(t.frames(), ["+0 close 1"]);
}

#[test]
fn a_stale_id_never_reaches_the_next_span_in_its_slot() {
    // One slot: every span reuses it.
    let t = Target::<4096, 1>::started();
    let s = t.sender();
    t.run(|| {
        let old = tracing::info_span!("old").id().unwrap();
        let new = tracing::info_span!("new");
        assert_eq!(
            new.id(),
            Some(Id::from_u64(2)),
            "same slot, next generation"
        );
        assert_eq!(t.frames().len(), 5);
        // Everything done with the stale id is ignored...
        s.enter(&old);
        s.record(
            &old,
            &tracing_core::span::Record::new(&new.metadata().unwrap().fields().value_set(&[])),
        );
        s.record_follows_from(&old, &new.id().unwrap());
        s.exit(&old);
        assert_eq!(s.clone_span(&old), old);
        assert!(!s.try_close(old.clone()));
        assert!(t.frames().is_empty());
        // ...or sent as untracked where it names a parent.
        tracing::info!(parent: &old, "orphan");
        // ...and the new span still has its one reference.
        drop(new);
    });
    assert_eq!(
        t.frames(),
        [
            "+0 callsite 2 Event Info event [message]",
            "+0 event cs2 parent=0 0=`orphan`",
            "+0 close 1",
        ]
    );
}

#[test]
fn current_span_is_the_innermost_entered_one() {
    let t = <Target>::started();
    let s = t.sender();
    t.run(|| {
        assert!(s.current_span().id().is_none());
        let outer = tracing::info_span!("outer").entered();
        let inner = tracing::debug_span!("inner").entered();
        let current = s.current_span();
        assert_eq!(current.id(), inner.id().as_ref());
        assert_eq!(current.metadata().map(|m| m.name()), Some("inner"));
        assert_eq!(tracing::Span::current().id(), inner.id());
        drop(inner);
        assert_eq!(s.current_span().id(), outer.id().as_ref());
    });
}

#[test]
fn out_of_order_exits_remove_the_most_recent_entry() {
    let t = <Target>::started();
    t.run(|| {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let ga = a.enter();
        let gb = b.enter();
        drop(ga);
        tracing::info!("in b");
        drop(gb);
    });
    let frames = t.frames();
    assert_eq!(
        frames[4..],
        [
            "+0 enter 1",
            "+0 enter 2",
            "+0 exit 1",
            "+0 callsite 2 Event Info event [message]",
            "+0 event cs2 current 0=`in b`",
            "+0 exit 2",
            "+0 close 2",
            "+0 close 1",
        ]
    );
}

#[test]
fn level_interface() {
    let t = <Target>::started_alone();
    let s = t.sender();
    let meta = t.run(|| tracing::info_span!("probe")).metadata().unwrap();
    assert_eq!(s.max_level_hint(), Some(LevelFilter::TRACE));
    assert!(s.enabled(meta));
    assert!(s.register_callsite(meta).is_always());
    t.tunnel.set_level(LevelFilter::WARN);
    assert_eq!(t.tunnel.level(), LevelFilter::WARN);
    assert_eq!(s.max_level_hint(), Some(LevelFilter::WARN));
    assert!(!s.enabled(meta));
    assert!(s.register_callsite(meta).is_never());
    assert!(*meta.level() == Level::INFO);
}

#[test]
fn instrumented_functions() {
    #[tracing::instrument(level = "debug")]
    fn work(n: u32, label: &str) -> u32 {
        tracing::trace!(n, "working");
        n * 2
    }
    let t = <Target>::started();
    t.run(|| work(3, "x"));
    let frames = t.frames();
    assert_eq!(
        frames,
        [
            "+0 callsite 0 Span Debug work [n,label]",
            "+0 new 1 cs0 current 0=3u 1=\"x\"",
            "+0 enter 1",
            "+0 callsite 1 Event Trace event [message,n]",
            "+0 event cs1 current 0=`working` 1=3u",
            "+0 exit 1",
            "+0 close 1",
        ]
    );
}

#[test]
fn an_interrupt_between_timestamp_and_write_gives_a_negative_delta() {
    /// Runs a span operation while being formatted, as an interrupt arriving mid-encoding
    /// would. (Through the subscriber itself: `tracing` does not re-enter its dispatcher.)
    struct Interrupt<F: Fn()>(F);
    impl<F: Fn()> core::fmt::Debug for Interrupt<F> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            set_now(1050);
            (self.0)();
            f.write_str("x")
        }
    }
    let t = <Target>::started();
    let s = t.sender();
    t.run(|| {
        let span = tracing::info_span!(parent: None, "s");
        let id = span.id().unwrap();
        set_now(1040);
        tracing::info!(parent: None, v = ?Interrupt(|| s.enter(&id)));
        s.exit(&id);
    });
    let frames = t.frames();
    assert_eq!(
        frames,
        [
            "+0 callsite 0 Span Info s []",
            "+0 new 1 cs0 root",
            "+50 enter 1",
            "-10 callsite 1 Event Info event [v]",
            "+0 event cs1 root 0=`x`",
            "+10 exit 1",
            "+0 close 1",
        ]
    );
    // The host's sum of deltas is each frame's own time.
    let times: Vec<i64> = frames
        .iter()
        .map(|f| f.split(' ').next().unwrap().parse::<i64>().unwrap())
        .scan(1000, |t, dt| {
            *t += dt;
            Some(*t)
        })
        .collect();
    assert_eq!(times, [1000, 1000, 1050, 1040, 1040, 1050, 1050]);
}

#[test]
fn untracked_ids_are_not_wire_ids() {
    assert!(UNTRACKED_ID > u64::from(u32::MAX));
}

#[test]
fn wire_ids_stay_one_byte_however_many_spans_came_before() {
    let t = Target::<16384>::started();
    t.run(|| {
        for _ in 0..200 {
            let outer = tracing::info_span!("outer").entered();
            drop(tracing::info_span!("inner").entered());
            drop(outer);
        }
    });
    let frames = t.frames();
    // The tracing ids grew with each slot's generation; the wire names slots 1 and 2 only.
    assert!(frames.iter().any(|f| f.ends_with("new 2 cs1 current")));
    for frame in frames.iter().filter(|f| !f.contains("callsite")) {
        let id = frame.split(' ').nth(2).unwrap();
        assert!(id == "1" || id == "2", "{frame}");
    }
    assert_eq!(frames.iter().filter(|f| f.contains("close")).count(), 400);
}
