//! Lost frames made good and capacity reported: the receiver's `Resync` and `Status`, alone
//! and behind the real sender with a ring too small for what it writes.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET};
use rtt_tunnel_protocol::{
    Capacity, Feed, Frame, FrameSplitter, Message, Parent, Resync, SpanId, SpanIds, Values,
};
use rtt_tunnel_sender::{Identity, MemoryLink, Tunnel};

fn resync<'a>(live: &[u32], entered: &[u32], bufs: &'a mut [[u8; 32]; 2]) -> Message<'a> {
    let [a, b] = bufs;
    let ids = |v: &[u32]| v.iter().map(|&i| SpanId(i)).collect::<Vec<_>>();
    Message::Resync(Resync {
        live: SpanIds::write(&ids(live), a).unwrap(),
        entered: SpanIds::write(&ids(entered), b).unwrap(),
    })
}

#[test]
fn a_resync_closes_exits_and_enters_what_lost_frames_would_have() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(1, 1, Parent::Root),
                Message::Enter(span(1)),
                new_span(2, 2, Parent::Current),
                Message::Enter(span(2)),
                new_span(3, 3, Parent::Current),
                Message::Enter(span(3)),
                new_span(4, 3, Parent::Root),
            ],
        );
        // Lost: exit 3, exit 2, close 2, enter 4.
        let mut bufs = [[0u8; 32]; 2];
        rx.receive(frame(resync(&[1, 3, 4], &[1, 4], &mut bufs)));
        assert_eq!(rx.entered(), [span(1), span(4)]);
        assert_eq!(rx.span_count(), 3);
        let r = rx.reconciled();
        assert_eq!(
            (r.resyncs, r.late_exits, r.late_closes, r.late_enters),
            (1, 2, 1, 1)
        );
        rx.receive(frame(event(0, Parent::Current, Values::EMPTY)));
        // A resync that changes nothing says nothing.
        rx.receive(frame(resync(&[1, 3, 4], &[1, 4], &mut bufs)));
        assert_eq!(rx.reconciled().resyncs, 2);
        // Ids the host does not know are ignored; spans it has are kept only if listed.
        rx.receive(frame(resync(&[1, 9], &[1, 9], &mut bufs)));
        assert_eq!(rx.entered(), [span(1)]);
        assert_eq!(rx.span_count(), 1);
    });
    let relayed: Vec<Op> = log
        .ops()
        .into_iter()
        .filter(|op| !matches!(op, Op::Event { target, .. } if target == RECEIVER_TARGET))
        .collect();
    assert_eq!(event_parents(&relayed), [Some("other#2".to_string())]);
    let warnings = receiver_warnings(&log);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("2 entries exited, 1 spans closed and 1 entries entered late"),
        "{warnings:?}"
    );
}

#[test]
fn capacity_overflow_is_warned_once_per_kind_with_the_fix() {
    let log = with_capture(|| {
        let mut rx = started();
        let status = |spans, enters| {
            Message::Status(Capacity {
                spans_untracked: spans,
                enters_untracked: enters,
                ..Capacity::default()
            })
        };
        feed(&mut rx, [status(44, 0), status(50, 24), status(50, 30)]);
        assert_eq!(rx.target_capacity().spans_untracked, 50);
        // A new boot counts from 0 again; the totals add up.
        feed(&mut rx, [hello(2, FIRMWARE), status(3, 0)]);
        assert_eq!(rx.target_capacity().spans_untracked, 53);
        assert_eq!(rx.target_capacity().enters_untracked, 30);
    });
    let warnings: Vec<String> = receiver_warnings(&log)
        .into_iter()
        .filter(|w| w.starts_with("raise"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("raise SPANS in `Tunnel<…>`: 44 spans were not tracked"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("raise DEPTH in `Tunnel<…>`: 24 enters were not tracked"),
        "{warnings:?}"
    );
}

/// A sender with a ring of 512 bytes: most of what it writes is lost unless the host reads
/// often.
type SmallTunnel = Tunnel<MemoryLink<512>, TestClock, 8, 32, 8, 256>;
static SMALL: SmallTunnel = Tunnel::new();

/// Splits, decodes and relays `wire`.
fn relay(rx: &mut Receiver, splitter: &mut FrameSplitter<512>, wire: &[u8]) {
    let mut input = wire;
    loop {
        match splitter.feed(input) {
            Feed::Consumed => return,
            Feed::Frame { frame, rest } => {
                input = rest;
                rx.receive(Frame::decode(frame).unwrap());
            }
            Feed::Error { error, .. } => panic!("{error}"),
        }
    }
}

fn take(tunnel: &SmallTunnel) -> Vec<u8> {
    let mut wire = vec![0u8; 512];
    let n = tunnel.with_link(|link| link.drain_up(&mut wire)).unwrap();
    wire.truncate(n);
    wire
}

/// Each event names the span the firmware has it in (`expect`): after every loss the host
/// must put it there too.
fn firmware(round: u32) {
    let a = tracing::info_span!("a", round);
    let _a = a.enter();
    tracing::info!(expect = "a", "in a");
    for i in 0..3u32 {
        let b = tracing::info_span!("b", i);
        let _b = b.enter();
        tracing::info!(expect = "b", "in b");
        {
            let c = tracing::info_span!("c");
            let _c = c.enter();
            tracing::info!(
                expect = "c",
                i,
                "in c, with a longer message to fill the ring"
            );
        }
        tracing::info!(expect = "b", "back in b");
        let d = tracing::info_span!(parent: None, "d");
        let _d = d.enter();
        tracing::info!(expect = "d", "in d");
    }
    tracing::info!(expect = "a", "back in a");
}

#[test]
fn behind_a_small_ring_the_host_ends_as_the_target_and_every_event_has_its_parent() {
    let (dispatch, log) = capture();
    let mut rx = Receiver::default();
    let mut splitter = FrameSplitter::<512>::new();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let identity = Identity {
            boot: 1,
            tick_hz: 1_000_000,
            firmware: "small ring",
        };
        SMALL.connect(MemoryLink::new(), identity).unwrap();
        let target = SMALL.dispatch();
        for round in 0..40 {
            tracing_core::dispatcher::with_default(&target, || firmware(round));
            // The host reads now and then: whatever did not fit is lost.
            if round % 3 == 0 {
                let wire = take(&SMALL);
                relay(&mut rx, &mut splitter, &wire);
            }
        }
        let flushed = SMALL.flush(100, || {
            let wire = take(&SMALL);
            relay(&mut rx, &mut splitter, &wire);
        });
        assert!(flushed);
        let wire = take(&SMALL);
        relay(&mut rx, &mut splitter, &wire);
    });
    let stats = SMALL.stats();
    assert!(stats.frames_dropped > 20, "{stats:?}");
    assert_eq!(stats.events_untracked, 0, "{stats:?}");
    assert_eq!(rx.dropped_frames(), u64::from(stats.frames_dropped));
    // The target closed and exited everything: so has the host.
    assert_eq!(rx.span_count(), 0);
    assert!(rx.entered().is_empty());
    assert!(rx.reconciled().late_exits + rx.reconciled().late_closes > 0);
    let mut checked = 0;
    for op in log.events() {
        let Op::Event { parent, fields, .. } = op else {
            continue;
        };
        let Some(expect) = fields.iter().find_map(|(name, value)| match value {
            Val::Str(s) if name == "expect" => Some(s.clone()),
            _ => None,
        }) else {
            continue; // the receiver's own
        };
        let parent = parent.as_deref().map(span_name);
        assert_eq!(parent, Some(expect.as_str()), "{fields:?}");
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
    drop(rx);
}

#[test]
fn resets_are_counted_and_the_summary_says_what_is_left() {
    let _log = with_capture(|| {
        let mut rx = Receiver::default();
        feed(&mut rx, boot_inside_spans(1));
        feed(&mut rx, boot_inside_spans(2));
        let r = rx.reconciled();
        assert_eq!((r.reset_exits, r.reset_closes), (2, 2));
        let mut stats = rtt_tunnel_host::pipeline::SessionStats {
            spans_open: rx.span_count() as u64,
            spans_entered: rx.entered().len() as u64,
            reconciled: r,
            ..Default::default()
        };
        stats.target_capacity.spans_untracked = 44;
        let text = stats.to_string();
        assert!(
            text.ends_with(
                "; left open: 2 spans, 2 entered (exited and closed at the end); forced by \
                 resets: 2 exits, 2 closes; target capacity: 44 spans untracked (SPANS)"
            ),
            "{text}"
        );
    });
}
