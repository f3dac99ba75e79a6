//! The receiver relays spans, events, values, parents, enter/exit, references, resets and
//! drops into a capturing subscriber.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::{Receiver, RECEIVER_TARGET, TRUNCATED_MARKER};
use rtt_tunnel_protocol::{CallsiteId, Frame, LiveSpan, Message, Parent, SpanId, Value};

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn values_of_every_kind() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [event_site(
                5,
                "kinds",
                &[
                    "message", "b", "i", "u", "i2", "u2", "f", "s", "d", "t", "unset",
                ],
            )],
        );
        let vals = Vals::new(&[
            (
                0,
                Value::Debug {
                    text: "hello 7",
                    truncated: false,
                },
            ),
            (1, Value::Bool(true)),
            (2, Value::I64(-5)),
            (3, Value::U64(u64::MAX)),
            (4, Value::I128(i128::MIN)),
            (5, Value::U128(u128::MAX)),
            (6, Value::F64(1.5)),
            (7, Value::Str("a \"str\"")),
            (
                8,
                Value::Debug {
                    text: "Point { x: 1 }",
                    truncated: false,
                },
            ),
            (
                9,
                Value::Debug {
                    text: "[1, 2, 3, 4",
                    truncated: true,
                },
            ),
        ]);
        rx.receive(frame(event(5, Parent::Current, vals.values())));
    });
    let events = log.events();
    assert_eq!(events.len(), 1);
    let Op::Event { name, fields, .. } = &events[0] else {
        unreachable!()
    };
    assert_eq!(name, "kinds");
    assert_eq!(
        fields,
        &vec![
            (s("message"), Val::Debug(s("hello 7"))),
            (s("b"), Val::Bool(true)),
            (s("i"), Val::I64(-5)),
            (s("u"), Val::U64(u64::MAX)),
            (s("i2"), Val::I128(i128::MIN)),
            (s("u2"), Val::U128(u128::MAX)),
            (s("f"), Val::F64(1.5)),
            (s("s"), Val::Str(s("a \"str\""))),
            // Debug text is shown as is (not quoted again), truncated text is marked.
            (s("d"), Val::Debug(s("Point { x: 1 }"))),
            (s("t"), Val::Debug(format!("[1, 2, 3, 4{TRUNCATED_MARKER}"))),
        ]
    );
}

#[test]
fn values_in_any_order_and_repeated() {
    let log = with_capture(|| {
        let mut rx = started();
        let vals = Vals::new(&[(1, Value::U64(1)), (0, Value::Str("m")), (1, Value::U64(2))]);
        rx.receive(frame(event(0, Parent::Root, vals.values())));
    });
    let Op::Event { fields, .. } = &log.events()[0] else {
        unreachable!()
    };
    // tracing visits a value set in field order; both values of `n` are relayed.
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "n").count(), 2);
    assert!(fields.contains(&(s("message"), Val::Str(s("m")))));
    assert!(fields.contains(&(s("n"), Val::U64(1))));
    assert!(fields.contains(&(s("n"), Val::U64(2))));
}

#[test]
fn span_tree_and_parents() {
    let log = with_capture(|| {
        let mut rx = started();
        let a = Vals::new(&[(0, Value::U64(3))]);
        rx.receive(frame(Message::NewSpan {
            id: span(10),
            callsite: CallsiteId(1),
            parent: Parent::Current,
            values: a.values(),
        }));
        feed(
            &mut rx,
            [
                Message::Enter(span(10)),
                // Current = outer.
                new_span(11, 2, Parent::Current),
                Message::Enter(span(11)),
                // Current = inner.
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                event(0, Parent::Root, rtt_tunnel_protocol::Values::EMPTY),
                event(
                    0,
                    Parent::Explicit(span(10)),
                    rtt_tunnel_protocol::Values::EMPTY,
                ),
                // A root while inside inner, and an explicit child of outer.
                new_span(12, 3, Parent::Root),
                new_span(13, 3, Parent::Explicit(span(10))),
                Message::Exit(span(11)),
                // Current = outer again.
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                Message::Exit(span(10)),
                // Nothing entered: current is root.
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
    });
    let ops = log.ops();
    let spans: Vec<&Op> = ops
        .iter()
        .filter(|op| matches!(op, Op::NewSpan { .. }))
        .collect();
    assert_eq!(
        spans,
        vec![
            &new_span_op("outer#1", None, vec![(s("a"), Val::U64(3))]),
            &new_span_op("inner#1", Some("outer#1"), vec![]),
            &new_span_op("other#1", None, vec![]),
            &new_span_op("other#2", Some("outer#1"), vec![]),
        ]
    );
    assert_eq!(
        event_parents(&ops),
        vec![
            Some(s("inner#1")),
            None,
            Some(s("outer#1")),
            Some(s("outer#1")),
            None,
        ]
    );
    // Every event is relayed with an explicit parent (or as explicit root).
    assert!(ops.iter().all(|op| !matches!(
        op,
        Op::Event {
            explicit: false,
            ..
        }
    )));
    let enters: Vec<&Op> = ops
        .iter()
        .filter(|op| matches!(op, Op::Enter(_) | Op::Exit(_)))
        .collect();
    assert_eq!(
        enters,
        vec![
            &Op::Enter(s("outer#1")),
            &Op::Enter(s("inner#1")),
            &Op::Exit(s("inner#1")),
            &Op::Exit(s("outer#1")),
        ]
    );
}

#[test]
fn target_roots_stay_roots_inside_a_host_span() {
    let log = with_capture(|| {
        let host = tracing::info_span!("host session");
        let _entered = host.enter();
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Current),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
    });
    let ops = log.ops();
    assert!(ops.contains(&new_span_op("outer#1", None, vec![])));
    assert_eq!(event_parents(&ops), vec![None]);
}

#[test]
fn record_follows_from_and_close() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                new_span(11, 2, Parent::Root),
                Message::FollowsFrom {
                    span: span(11),
                    follows: span(10),
                },
            ],
        );
        let vals = Vals::new(&[(0, Value::I64(-9))]);
        rx.receive(frame(Message::Record {
            span: span(10),
            values: vals.values(),
        }));
        feed(
            &mut rx,
            [Message::Close(span(10)), Message::Close(span(11))],
        );
        assert_eq!(rx.span_count(), 0);
    });
    let ops: Vec<Op> = log
        .ops()
        .into_iter()
        .filter(|op| !matches!(op, Op::NewSpan { .. }))
        .collect();
    assert_eq!(
        ops,
        vec![
            Op::FollowsFrom {
                span: s("inner#1"),
                follows: s("outer#1")
            },
            Op::Record {
                span: s("outer#1"),
                fields: vec![(s("a"), Val::I64(-9))]
            },
            Op::Close(s("outer#1")),
            Op::Close(s("inner#1")),
        ]
    );
}

#[test]
fn clone_adds_a_reference() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Clone(span(10)),
                Message::Clone(span(10)),
                Message::Close(span(10)),
                Message::Close(span(10)),
            ],
        );
        assert_eq!(rx.span_count(), 1);
        rx.receive(frame(event(
            0,
            Parent::Explicit(span(10)),
            rtt_tunnel_protocol::Values::EMPTY,
        )));
        rx.receive(frame(Message::Close(span(10))));
        assert_eq!(rx.span_count(), 0);
    });
    let ops = log.ops();
    assert_eq!(event_parents(&ops), vec![Some(s("outer#1"))]);
    assert_eq!(ops.last(), Some(&Op::Close(s("outer#1"))));
    assert_eq!(
        ops.iter().filter(|op| matches!(op, Op::Close(_))).count(),
        1
    );
}

#[test]
fn reentered_span_and_close_while_entered() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                Message::Enter(span(10)),
                Message::Exit(span(10)),
                Message::Enter(span(10)),
                // A bogus sender closes it while entered twice: exited first.
                Message::Close(span(10)),
            ],
        );
        assert!(rx.entered().is_empty());
    });
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
    assert_eq!(log.ops().last(), Some(&Op::Close(s("outer#1"))));
}

#[test]
fn new_span_reusing_a_live_id_replaces_it() {
    // The target reuses a span's id only after closing it: a lost `Close` (full ring).
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                // Exit and Close of span 10 were dropped on the target.
                new_span(10, 2, Parent::Current),
                Message::Enter(span(10)),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
        assert_eq!(rx.replaced_spans(), 1);
        assert_eq!(rx.entered(), &[span(10)]);
    });
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
    // The old span was exited and closed before the new one took its id; the new one is a
    // root (the old one, its would-be contextual parent, was gone).
    assert_eq!(event_parents(&log.ops()), vec![Some(s("inner#1"))]);
    assert!(log
        .ops()
        .iter()
        .position(|op| *op == Op::Close(s("outer#1")))
        .is_some_and(|close| close < log.ops().len() - 3));
}

#[test]
fn out_of_order_exit_removes_the_right_entry() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                new_span(11, 2, Parent::Root),
                Message::Enter(span(10)),
                Message::Enter(span(11)),
                // Exit the outer one first (async code does this).
                Message::Exit(span(10)),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
        assert_eq!(rx.entered(), &[span(11)]);
    });
    assert_eq!(event_parents(&log.ops()), vec![Some(s("inner#1"))]);
}

#[test]
fn untracked_spans_are_ignored_and_counted() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                new_span(0, 2, Parent::Current),
                Message::Enter(SpanId::UNTRACKED),
                // Inside the untracked span: its parent as the target saw it is outer.
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                event(
                    0,
                    Parent::Explicit(SpanId::UNTRACKED),
                    rtt_tunnel_protocol::Values::EMPTY,
                ),
                Message::Record {
                    span: SpanId::UNTRACKED,
                    values: rtt_tunnel_protocol::Values::EMPTY,
                },
                Message::FollowsFrom {
                    span: SpanId::UNTRACKED,
                    follows: span(10),
                },
                Message::Clone(SpanId::UNTRACKED),
                Message::Exit(SpanId::UNTRACKED),
                Message::Close(SpanId::UNTRACKED),
                Message::LiveSpan(LiveSpan {
                    id: SpanId::UNTRACKED,
                    callsite: CallsiteId(2),
                    parent: Parent::Root,
                    entered: 1,
                }),
                Message::Exit(span(10)),
            ],
        );
        assert_eq!(rx.untracked_frames(), 8);
        assert_eq!(rx.span_count(), 1);
    });
    let ops = log.ops();
    assert_eq!(
        event_parents(&ops),
        vec![Some(s("outer#1")), Some(s("outer#1"))]
    );
    assert!(!ops
        .iter()
        .any(|op| matches!(op, Op::NewSpan { span, .. } if span.starts_with("inner"))));
}

#[test]
fn live_spans_are_created_and_reconciled() {
    let log = with_capture(|| {
        // A host that attached late: no Hello, the call sites come with the resend.
        let mut rx = Receiver::default();
        feed(
            &mut rx,
            [
                span_site(1, "outer", &["a"]),
                span_site(2, "inner", &[]),
                event_site(0, "event", &["message", "n"]),
                Message::LiveSpan(LiveSpan {
                    id: span(20),
                    callsite: CallsiteId(1),
                    parent: Parent::Root,
                    entered: 1,
                }),
                Message::LiveSpan(LiveSpan {
                    id: span(21),
                    callsite: CallsiteId(2),
                    parent: Parent::Explicit(span(20)),
                    entered: 2,
                }),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
        assert_eq!(rx.entered(), &[span(20), span(21), span(21)]);
        // Sent again: now entered once less, and outer not at all.
        feed(
            &mut rx,
            [
                Message::LiveSpan(LiveSpan {
                    id: span(21),
                    callsite: CallsiteId(2),
                    parent: Parent::Explicit(span(20)),
                    entered: 1,
                }),
                Message::LiveSpan(LiveSpan {
                    id: span(20),
                    callsite: CallsiteId(1),
                    parent: Parent::Root,
                    entered: 0,
                }),
            ],
        );
        assert_eq!(rx.entered(), &[span(21)]);
        assert_eq!(rx.span_count(), 2);
        feed(&mut rx, [Message::Exit(span(21))]);
    });
    let ops = log.ops();
    assert!(ops.contains(&new_span_op("outer#1", None, vec![])));
    assert!(ops.contains(&new_span_op("inner#1", Some("outer#1"), vec![])));
    assert_eq!(event_parents(&ops), vec![Some(s("inner#1"))]);
    assert_eq!(log.unbalanced(), vec![]);
    // No span was created twice.
    assert_eq!(
        ops.iter()
            .filter(|op| matches!(op, Op::NewSpan { .. }))
            .count(),
        2
    );
}

#[test]
fn dropped_frames_become_a_warning() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                Message::Dropped { frames: 3 },
                Message::Dropped { frames: 0 },
                Message::Dropped { frames: 4 },
            ],
        );
        assert_eq!(rx.dropped_frames(), 7);
    });
    let events = log.events();
    assert_eq!(events.len(), 2);
    let Op::Event {
        target,
        level,
        parent,
        fields,
        ..
    } = &events[1]
    else {
        unreachable!()
    };
    assert_eq!(target, RECEIVER_TARGET);
    assert_eq!(*level, tracing_core::Level::WARN);
    assert_eq!(*parent, None);
    assert!(fields.contains(&(s("frames"), Val::U64(4))));
    assert!(fields.contains(&(s("total"), Val::U64(7))));
    let Some((_, Val::Debug(message))) = fields.iter().find(|(n, _)| n == "message") else {
        panic!("no message in {fields:?}")
    };
    assert!(message.contains("dropped 4 frames (7 in all)"), "{message}");
}

#[test]
fn target_time_of_each_frame() {
    let log = with_capture(|| {
        let mut rx = Receiver::default();
        let clock = rx.clock();
        let msgs = standard_preamble(9);
        let dts = [1_000_000, 5, 5, 5, 5];
        for (dt, message) in dts.into_iter().zip(msgs) {
            rx.receive(Frame {
                exception: 0,
                dt,
                message,
            });
        }
        let none = rtt_tunnel_protocol::Values::EMPTY;
        rx.receive(Frame {
            exception: 0,
            dt: 500_000,
            message: event(0, Parent::Root, none),
        });
        // An interrupt's frame was sealed after a later timestamp: negative delta.
        rx.receive(Frame {
            exception: 0,
            dt: -20,
            message: event(0, Parent::Root, none),
        });
        assert_eq!(rx.target_time().ticks, 1_500_000);
        assert_eq!(clock.now(), rx.target_time());
        assert_eq!(
            rx.target_time().since_boot(),
            Some(std::time::Duration::from_millis(1500))
        );
        // A reset restarts the sum at the Hello's delta.
        rx.receive(Frame {
            exception: 0,
            dt: 42,
            message: hello(10, FIRMWARE),
        });
        assert_eq!(rx.target_time().ticks, 42);
        assert_eq!(clock.now().boot, Some(10));
        assert_eq!(clock.now().epoch, 1);
    });
    let times = event_times(&log);
    // Two events, then the reset warning at the new Hello's time.
    assert_eq!(
        times,
        vec![
            (1_500_020, Some(9), 0),
            (1_500_000, Some(9), 0),
            (42, Some(10), 1)
        ]
    );
    assert_eq!(rtt_tunnel_host::target_time::current(), None);
}

/// The target time (ticks, boot, epoch) of each event in `log`.
fn event_times(log: &Log) -> Vec<(i64, Option<u32>, u64)> {
    log.events()
        .iter()
        .map(|op| match op {
            Op::Event { time: Some(t), .. } => (t.ticks, t.boot, t.epoch),
            other => panic!("no time in {other:?}"),
        })
        .collect()
}

/// A pipeline publishes a frame's ticks alone while the rest of the time stands: a reset in
/// the middle of a chunk must still give the frames after it the new boot and epoch, and the
/// next chunk's first frame the whole time again.
#[test]
fn a_pipeline_publishes_the_new_boots_time_after_a_reset_inside_a_chunk() {
    use rtt_tunnel_host::pipeline::Pipeline;
    let frame = |dt: i64, message: Message<'static>| {
        let mut buf = [0u8; 128];
        let n = Frame {
            exception: 0,
            dt,
            message,
        }
        .encode(&mut buf)
        .unwrap();
        buf[..n].to_vec()
    };
    let none = rtt_tunnel_protocol::Values::EMPTY;
    let mut first = [
        frame(5, hello(9, FIRMWARE)),
        frame(1, event_site(0, "event", &["message", "n"])),
        frame(10, event(0, Parent::Root, none)),
        frame(7, hello(10, FIRMWARE)),
        frame(20, event(0, Parent::Root, none)),
    ]
    .concat();
    let mut second = frame(3, event(0, Parent::Root, none));
    let log = with_capture(|| {
        let mut rx = Receiver::default();
        let mut pipeline = Pipeline::new();
        assert_eq!(pipeline.feed(&mut first, &mut rx).unwrap(), 5);
        assert_eq!(pipeline.feed(&mut second, &mut rx).unwrap(), 1);
    });
    let times = event_times(&log);
    // The event of boot 9, the reset warning at the new Hello's time, the event after it in
    // the same chunk, and the next chunk's event.
    assert_eq!(
        times,
        vec![
            (16, Some(9), 0),
            (7, Some(10), 1),
            (27, Some(10), 1),
            (30, Some(10), 1)
        ]
    );
    assert_eq!(rtt_tunnel_host::target_time::current(), None);
}

#[test]
fn frames_before_hello_are_relayed_in_ticks() {
    let log = with_capture(|| {
        // A host that attached to a running target.
        let mut rx = Receiver::default();
        feed(
            &mut rx,
            [
                event_site(0, "event", &["message", "n"]),
                span_site(1, "outer", &[]),
                new_span(10, 1, Parent::Current),
                Message::Enter(span(10)),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
        assert_eq!(rx.boot(), None);
        assert_eq!(rx.target_time().tick_hz, None);
        assert_eq!(rx.target_time().to_string(), "5t");
        // The target's Hello (re-sent on request, or after a reset): what came before is
        // replaced by what the target re-sends after it.
        rx.receive(Frame {
            exception: 0,
            dt: 2_000_000,
            message: hello(1, FIRMWARE),
        });
        assert_eq!(rx.resets(), 0);
        assert_eq!(rx.span_count(), 0);
        assert_eq!(rx.target_time().to_string(), "2.000000s");
        // Call sites learned before any Hello are not trusted for the announced firmware.
        assert!(rx
            .try_receive(frame(event(
                0,
                Parent::Current,
                rtt_tunnel_protocol::Values::EMPTY
            )))
            .is_err());
        assert!(rx.persist_metadata().is_empty());
        // The re-send.
        feed(
            &mut rx,
            [
                event_site(0, "event", &["message", "n"]),
                span_site(1, "outer", &[]),
                Message::LiveSpan(LiveSpan {
                    id: span(10),
                    callsite: CallsiteId(1),
                    parent: Parent::Root,
                    entered: 1,
                }),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
    });
    let ops = log.ops();
    assert_eq!(
        event_parents(&ops),
        vec![Some(s("outer#1")), Some(s("outer#2"))]
    );
    // No reset warning; the span seen before the Hello was exited and closed at it.
    assert!(ops
        .iter()
        .all(|op| !matches!(op, Op::Event { target, .. } if target == RECEIVER_TARGET)));
    let hello_at = ops
        .iter()
        .position(|op| op == &Op::Close(s("outer#1")))
        .unwrap();
    assert_eq!(ops[hello_at - 1], Op::Exit(s("outer#1")));
}

#[test]
fn hello_of_the_same_boot_only_sets_the_time() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [new_span(10, 1, Parent::Root), Message::Enter(span(10))],
        );
        let before = rx.target_time().ticks;
        // The host asked for a re-send: the same Hello, with the exact time since boot (the
        // host's sum of deltas had drifted, say, by a lost frame).
        rx.receive(Frame {
            exception: 0,
            dt: before + 1_000_000,
            message: hello(1, FIRMWARE),
        });
        assert_eq!(rx.target_time().ticks, before + 1_000_000);
        assert_eq!(rx.resets(), 0);
        assert_eq!(rx.entered(), &[span(10)]);
        // A little back (an interrupt's frame sealed first) is still the same boot.
        rx.receive(Frame {
            exception: 0,
            dt: before + 1_000_000 - 500,
            message: hello(1, FIRMWARE),
        });
        assert_eq!(rx.resets(), 0);
        // Call sites and spans are still there.
        feed(
            &mut rx,
            [
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                Message::Exit(span(10)),
            ],
        );
        // Far back (more than 10 ms): the target reset without changing its boot value.
        rx.receive(Frame {
            exception: 0,
            dt: 3,
            message: hello(1, FIRMWARE),
        });
        assert_eq!(rx.resets(), 1);
        assert_eq!(rx.span_count(), 0);
    });
    let ops = log.ops();
    assert_eq!(event_parents(&ops), vec![Some(s("outer#1")), None]);
    let Op::Event { target, .. } = log.events().pop().unwrap() else {
        unreachable!()
    };
    assert_eq!(target, RECEIVER_TARGET);
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
}

#[test]
fn reset_exits_closes_and_warns() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                new_span(11, 2, Parent::Current),
                Message::Enter(span(11)),
                Message::Enter(span(11)),
                new_span(12, 3, Parent::Root),
            ],
        );
        // The target resets: same firmware, next boot.
        feed(&mut rx, [hello(2, FIRMWARE)]);
        assert_eq!(rx.resets(), 1);
        assert_eq!(rx.span_count(), 0);
        assert!(rx.entered().is_empty());
        // The firmware is the same: its call sites are still known without a re-announce,
        // and announcing them again (same content) is fine.
        feed(
            &mut rx,
            [
                event_site(0, "event", &["message", "n"]),
                new_span(10, 1, Parent::Root),
                event(
                    0,
                    Parent::Explicit(span(10)),
                    rtt_tunnel_protocol::Values::EMPTY,
                ),
            ],
        );
        // Another firmware: the call sites of the old one do not apply.
        feed(&mut rx, [hello(1, "other firmware")]);
        assert_eq!(rx.resets(), 2);
        let err = rx
            .try_receive(frame(event(
                0,
                Parent::Root,
                rtt_tunnel_protocol::Values::EMPTY,
            )))
            .unwrap_err();
        assert!(matches!(
            err,
            rtt_tunnel_host::receiver::ReceiveError::UnknownCallsite { .. }
        ));
    });
    let ops = log.ops();
    let at = ops
        .iter()
        .position(|op| matches!(op, Op::NewSpan { span, .. } if span == "other#1"))
        .unwrap();
    let reset: Vec<Op> = ops[at + 1..]
        .iter()
        .take_while(|op| !matches!(op, Op::Event { .. }))
        .cloned()
        .collect();
    // Innermost first; every entry exited; then every span closed (order of the table).
    assert_eq!(
        &reset[..3],
        &[
            Op::Exit(s("inner#1")),
            Op::Exit(s("inner#1")),
            Op::Exit(s("outer#1"))
        ]
    );
    let mut closed: Vec<Op> = reset[3..].to_vec();
    closed.sort_by_key(|op| format!("{op:?}"));
    assert_eq!(
        closed,
        vec![
            Op::Close(s("inner#1")),
            Op::Close(s("other#1")),
            Op::Close(s("outer#1"))
        ]
    );
    let warnings: Vec<&Op> = ops
        .iter()
        .filter(|op| matches!(op, Op::Event { target, .. } if target == RECEIVER_TARGET))
        .collect();
    assert_eq!(warnings.len(), 2);
    let Op::Event {
        level,
        fields,
        parent,
        ..
    } = warnings[0]
    else {
        unreachable!()
    };
    assert_eq!(*level, tracing_core::Level::WARN);
    assert_eq!(*parent, None);
    assert!(fields.contains(&(s("resets"), Val::U64(1))));
    assert!(fields.contains(&(s("exited"), Val::U64(3))));
    assert!(fields.contains(&(s("closed"), Val::U64(3))));
    let Some((_, Val::Debug(message))) = fields.iter().find(|(n, _)| n == "message") else {
        panic!()
    };
    assert!(
        message.starts_with("target reset (boot 1 -> 2"),
        "{message}"
    );
    // The new boot's span and event.
    assert_eq!(
        event_parents(&ops)
            .into_iter()
            .filter(Option::is_some)
            .collect::<Vec<_>>(),
        vec![Some(s("outer#2"))]
    );
    assert_eq!(log.unbalanced(), vec![]);
}

#[test]
fn conflicting_call_site_replaces_the_old_one() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                event_site(0, "renamed", &["message", "n", "extra"]),
                event(0, Parent::Root, rtt_tunnel_protocol::Values::EMPTY),
            ],
        );
        let vals = Vals::new(&[(2, Value::Bool(false))]);
        rx.receive(frame(event(0, Parent::Root, vals.values())));
        let meta = rx.persist_metadata();
        let data = meta.get(FIRMWARE, CallsiteId(0)).unwrap();
        assert_eq!(data.name, "renamed");
    });
    let names: Vec<String> = log
        .events()
        .into_iter()
        .map(|op| match op {
            Op::Event { name, .. } => name,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(names, vec![s("renamed"), s("renamed")]);
}

#[test]
fn drop_exits_and_closes() {
    let log = with_capture(|| {
        let mut rx = started();
        feed(
            &mut rx,
            [
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                new_span(11, 2, Parent::Current),
                Message::Enter(span(11)),
                new_span(12, 3, Parent::Root),
                Message::Clone(span(12)),
            ],
        );
        drop(rx);
    });
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
    // No warning: dropping the receiver is not a target reset.
    assert!(log.events().is_empty());
}

#[test]
fn disabled_call_sites_are_not_relayed() {
    use tracing_subscriber::layer::SubscriberExt;
    let log = Log::default();
    let dispatch = tracing_core::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(CaptureLayer::new(log.clone())),
    );
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        feed(
            &mut rx,
            [
                rtt_tunnel_protocol::Message::CallSite(rtt_tunnel_protocol::CallSite {
                    id: CallsiteId(7),
                    kind: rtt_tunnel_protocol::Kind::Span,
                    level: rtt_tunnel_protocol::Level::Debug,
                    name: "noisy",
                    target: "fw::app",
                    module_path: None,
                    file: None,
                    line: None,
                    fields: rtt_tunnel_protocol::FieldNames::new(&[]),
                }),
                rtt_tunnel_protocol::Message::CallSite(rtt_tunnel_protocol::CallSite {
                    id: CallsiteId(8),
                    kind: rtt_tunnel_protocol::Kind::Event,
                    level: rtt_tunnel_protocol::Level::Trace,
                    name: "chatter",
                    target: "fw::app",
                    module_path: None,
                    file: None,
                    line: None,
                    fields: rtt_tunnel_protocol::FieldNames::new(&[]),
                }),
                new_span(10, 1, Parent::Root),
                Message::Enter(span(10)),
                new_span(11, 7, Parent::Current),
                Message::Enter(span(11)),
                new_span(12, 2, Parent::Current),
                event(0, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                event(
                    0,
                    Parent::Explicit(span(11)),
                    rtt_tunnel_protocol::Values::EMPTY,
                ),
                event(8, Parent::Current, rtt_tunnel_protocol::Values::EMPTY),
                Message::Exit(span(11)),
                Message::Close(span(11)),
                event(
                    0,
                    Parent::Explicit(span(12)),
                    rtt_tunnel_protocol::Values::EMPTY,
                ),
                Message::Exit(span(10)),
            ],
        );
    });
    let ops = log.ops();
    // `noisy` (DEBUG) is not relayed; its child and events go to `outer`, and the TRACE event
    // is not relayed at all.
    assert!(ops.contains(&new_span_op("inner#1", Some("outer#1"), vec![])));
    assert!(!ops
        .iter()
        .any(|op| matches!(op, Op::NewSpan { span, .. } if span.starts_with("noisy"))));
    assert_eq!(
        event_parents(&ops),
        vec![Some(s("outer#1")), Some(s("outer#1")), Some(s("inner#1"))]
    );
    assert_eq!(log.unbalanced(), vec![]);
}

#[test]
fn a_receiver_moves_to_another_thread() {
    let mut rx = started();
    feed(&mut rx, [new_span(10, 1, Parent::Root)]);
    let (spans, local) = rx.persist();
    // Persisted state crosses threads; the host spans stay with their subscriber, so the
    // reader thread restores without them.
    drop(local);
    let log = std::thread::spawn(move || {
        with_capture(|| {
            let mut rx = Receiver::new(
                rtt_tunnel_host::receiver::PersistedMetadata::default(),
                spans,
                rtt_tunnel_host::receiver::LocalSpans::default(),
            );
            feed(&mut rx, standard_preamble(2));
            assert_eq!(rx.resets(), 1);
        })
    })
    .join()
    .unwrap();
    assert_eq!(log.events().len(), 1);
}
