//! A full ring: whole frames or nothing, drops counted and reported, late announcements.

use std::string::String;
use std::vec::Vec;

use tracing_core::Subscriber;

use super::{set_now, Target};

/// A 256-byte ring and 256-byte frames (call sites of this file are long).
pub(super) type Small = Target<256, 4, 8, 4, 256>;

fn event(n: u32) {
    tracing::info!(n);
}

fn other_event() {
    tracing::info!(m = 1u32);
}

#[test]
fn a_full_ring_drops_whole_frames_and_reports_how_many() {
    let t = Small::started();
    t.run(|| event(0));
    assert_eq!(t.frames().len(), 2, "call site and event");
    // An event is 6 bytes: 42 fill the ring (252 bytes), 8 more are dropped.
    t.run(|| (0..50).for_each(event));
    assert_eq!(t.ring_len(), 252);
    let frames = t.frames();
    assert_eq!(frames.len(), 42);
    assert!(frames
        .iter()
        .all(|f| f.starts_with("+0 event cs0 current 0=")));
    assert_eq!(t.tunnel.stats().frames_dropped, 8);
    set_now(1500);
    t.run(|| event(99));
    assert_eq!(
        t.frames(),
        [
            "+500 resync live=[] entered=[]",
            "+0 dropped 8",
            "+0 event cs0 current 0=99u"
        ]
    );
    let stats = t.tunnel.stats();
    assert_eq!(stats.frames_dropped, 8);
    assert_eq!(stats.frames_written, 1 + 2 + 42 + 3);
}

#[test]
fn poll_reports_drops_without_waiting_for_the_next_frame() {
    let t = Small::started();
    t.run(|| (0..50).for_each(event));
    t.tunnel.poll();
    let frames = t.frames();
    let events = frames.iter().filter(|f| f.contains(" event cs0 ")).count();
    assert_eq!(
        frames.len(),
        1 + events,
        "the call site, then events until the ring was full"
    );
    let dropped = 50 - events;
    assert!(dropped > 0);
    assert_eq!(t.tunnel.stats().frames_dropped as usize, dropped);
    t.tunnel.poll();
    assert_eq!(
        t.frames(),
        [
            std::string::String::from("+0 resync live=[] entered=[]"),
            std::format!("+0 dropped {dropped}")
        ]
    );
    t.tunnel.poll();
    assert!(t.frames().is_empty(), "reported once");
}

/// Fills the ring with events of an announced call site until fewer than 96 bytes are left:
/// room for an event, not for a call-site announcement.
pub(super) fn fill(t: &Small) {
    t.run(|| event(0));
    t.frames();
    t.run(|| (0..27).for_each(event));
    assert_eq!(t.ring_len(), 162);
}

#[test]
fn an_event_whose_call_site_cannot_be_announced_is_dropped_and_the_call_site_sent_later() {
    let t = Small::started();
    fill(&t);
    t.run(other_event);
    // Not written without its call site, although the event alone would fit.
    assert_eq!(t.ring_len(), 162);
    assert_eq!(t.tunnel.stats().frames_dropped, 1);
    assert_eq!(t.frames().len(), 27);
    // The next frame that needs it brings it.
    t.run(other_event);
    assert_eq!(
        t.frames(),
        [
            "+0 resync live=[] entered=[]",
            "+0 dropped 1",
            "+0 callsite 1 Event Info event [m]",
            "+0 event cs1 current 0=1u",
        ]
    );
}

#[test]
fn poll_sends_a_late_announcement() {
    let t = Small::started();
    fill(&t);
    t.run(other_event);
    t.frames();
    t.tunnel.poll();
    assert_eq!(
        t.frames(),
        [
            "+0 resync live=[] entered=[]",
            "+0 dropped 1",
            "+0 callsite 1 Event Info event [m]"
        ]
    );
    t.run(other_event);
    assert_eq!(t.frames(), ["+0 event cs1 current 0=1u"]);
}

#[test]
fn a_span_whose_new_span_was_dropped_is_revived_before_the_next_frame() {
    let t = Small::started();
    fill(&t);
    let frames: Vec<String> = t.run(|| {
        // Its call site does not fit: the span is tracked, the host does not know it.
        let span = tracing::info_span!("unknown", v = 1u32);
        t.frames();
        let _in_span = span.enter();
        span.record("v", 2u32);
        let mut frames = t.frames();
        tracing::info!("inside");
        frames.extend(t.frames());
        tracing::info!(parent: &span, "explicit");
        frames.extend(t.frames());
        frames
    });
    // Before the enter, the loss is made good: the state, the span as a `LiveSpan`, the state
    // again.
    // From there on the host knows the span: its enter and record go out, and it is the
    // parent of the events inside it.
    assert_eq!(
        frames,
        [
            "+0 resync live=[] entered=[]",
            "+0 callsite 1 Span Info unknown [v]",
            "+0 live 1 cs1 root entered=0",
            "+0 resync live=[1] entered=[]",
            "+0 dropped 1",
            "+0 enter 1",
            "+0 record 1 0=2u",
            "+0 callsite 2 Event Info event [message]",
            "+0 event cs2 current 0=`inside`",
            "+0 callsite 3 Event Info event [message]",
            "+0 event cs3 parent=1 0=`explicit`",
        ]
    );
    assert_eq!(t.frames(), ["+0 exit 1", "+0 close 1"]);
    assert_eq!(t.tunnel.stats().frames_dropped, 1);
}

#[test]
fn frames_before_connect_are_counted_and_reported_after_hello() {
    let guard = super::Guard::shared();
    let tunnel = Small::unconnected();
    let dispatch = tunnel.dispatch();
    set_now(500);
    tracing::dispatcher::with_default(&dispatch, || event(1));
    assert_eq!(tunnel.stats().frames_dropped, 1);
    set_now(1000);
    tunnel
        .connect(super::SealingLink::new(), super::IDENTITY)
        .unwrap();
    let t = Small {
        tunnel,
        dispatch,
        _guard: guard,
    };
    assert_eq!(
        t.frames(),
        [
            "+1000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0",
            "+0 resync live=[] entered=[]",
            "+0 dropped 1",
            "+0 callsite 0 Event Info event [n]",
        ]
    );
    let span = t.run(|| tracing::info_span!("x"));
    assert!(t.sender().enabled(span.metadata().unwrap()));
}
