//! Every `ReceiveError`: the bogus frame is not relayed, the receiver keeps working.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::{ReceiveError, Receiver, MAX_VALUES};
use rtt_tunnel_protocol::{
    CallsiteId, DecodeError, Frame, Hello, Kind, LiveSpan, Message, Parent, SpanId, Value, Values,
    PROTOCOL_VERSION,
};

/// Feeds `bad`, expects `expected`, checks that nothing was relayed for it and that an event
/// right after it is relayed normally.
fn rejects(rx: &mut Receiver, log: &Log, bad: Message<'_>, expected: ReceiveError) {
    let before = log.ops().len();
    let spans = rx.span_count();
    let entered = rx.entered().to_vec();
    let err = rx.try_receive(frame(bad)).unwrap_err();
    assert_eq!(err, expected);
    assert_eq!(log.ops().len(), before, "relayed something for {bad:?}");
    assert_eq!(rx.span_count(), spans);
    assert_eq!(rx.entered(), &entered[..]);
    rx.receive(frame(event(0, Parent::Root, Values::EMPTY)));
    assert_eq!(log.ops().len(), before + 1);
}

fn many_fields(n: usize) -> &'static [&'static str] {
    let names: Vec<&'static str> = (0..n)
        .map(|i| &*Box::leak(format!("f{i}").into_boxed_str()))
        .collect();
    Box::leak(names.into_boxed_slice())
}

#[test]
fn every_error_leaves_the_receiver_working() {
    let (dispatch, log) = capture();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        feed(
            &mut rx,
            [
                event_site(4, "wide", many_fields(MAX_VALUES + 8)),
                new_span(10, 1, Parent::Root),
            ],
        );

        rejects(
            &mut rx,
            &log,
            Message::Hello(Hello {
                version: PROTOCOL_VERSION + 1,
                boot: 9,
                tick_hz: 1,
                firmware: FIRMWARE,
                flash_base: 0,
                flash_len: 0,
            }),
            ReceiveError::VersionMismatch {
                found: PROTOCOL_VERSION + 1,
                expected: PROTOCOL_VERSION,
            },
        );
        assert_eq!(rx.boot().unwrap().boot, 1, "a rejected Hello is no reset");
        assert_eq!(rx.resets(), 0);

        rejects(
            &mut rx,
            &log,
            event(42, Parent::Root, Values::EMPTY),
            ReceiveError::UnknownCallsite {
                callsite: CallsiteId(42),
                message: "Event",
            },
        );
        rejects(
            &mut rx,
            &log,
            new_span(11, 42, Parent::Root),
            ReceiveError::UnknownCallsite {
                callsite: CallsiteId(42),
                message: "NewSpan",
            },
        );
        rejects(
            &mut rx,
            &log,
            event(1, Parent::Root, Values::EMPTY),
            ReceiveError::CallsiteKind {
                callsite: CallsiteId(1),
                name: "outer",
                actual: Kind::Span,
                expected: Kind::Event,
                message: "Event",
            },
        );
        rejects(
            &mut rx,
            &log,
            new_span(11, 0, Parent::Root),
            ReceiveError::CallsiteKind {
                callsite: CallsiteId(0),
                name: "event",
                actual: Kind::Event,
                expected: Kind::Span,
                message: "NewSpan",
            },
        );

        let unknown = |message| ReceiveError::UnknownSpan {
            span: SpanId(99),
            message,
        };
        rejects(&mut rx, &log, Message::Enter(SpanId(99)), unknown("Enter"));
        rejects(&mut rx, &log, Message::Exit(SpanId(99)), unknown("Exit"));
        rejects(&mut rx, &log, Message::Close(SpanId(99)), unknown("Close"));
        rejects(&mut rx, &log, Message::Clone(SpanId(99)), unknown("Clone"));
        let record = Message::Record {
            span: SpanId(99),
            values: Values::EMPTY,
        };
        rejects(&mut rx, &log, record, unknown("Record"));
        let follows = Message::FollowsFrom {
            span: SpanId(99),
            follows: SpanId(10),
        };
        rejects(&mut rx, &log, follows, unknown("FollowsFrom"));
        let follows = Message::FollowsFrom {
            span: SpanId(10),
            follows: SpanId(99),
        };
        rejects(&mut rx, &log, follows, unknown("FollowsFrom"));
        let child = new_span(11, 2, Parent::Explicit(SpanId(99)));
        rejects(&mut rx, &log, child, unknown("NewSpan"));
        let ev = event(0, Parent::Explicit(SpanId(99)), Values::EMPTY);
        rejects(&mut rx, &log, ev, unknown("Event"));
        let live = Message::LiveSpan(LiveSpan {
            id: SpanId(11),
            callsite: CallsiteId(2),
            parent: Parent::Explicit(SpanId(99)),
            entered: 0,
        });
        rejects(&mut rx, &log, live, unknown("LiveSpan"));

        rejects(
            &mut rx,
            &log,
            new_span(10, 2, Parent::Explicit(SpanId(10))),
            ReceiveError::SpanExists {
                span: SpanId(10),
                message: "NewSpan",
            },
        );
        rejects(
            &mut rx,
            &log,
            Message::Exit(SpanId(10)),
            ReceiveError::NotEntered { span: SpanId(10) },
        );
        let live = Message::LiveSpan(LiveSpan {
            id: SpanId(10),
            callsite: CallsiteId(1),
            parent: Parent::Root,
            entered: 100_000,
        });
        rejects(
            &mut rx,
            &log,
            live,
            ReceiveError::TooManyEntries {
                span: SpanId(10),
                entered: 100_000,
                max: 1024,
            },
        );

        let values: Vec<(u8, Value<'_>)> = (0..=MAX_VALUES as u8)
            .map(|i| (i, Value::U64(i.into())))
            .collect();
        let too_many = Vals::new(&values);
        rejects(
            &mut rx,
            &log,
            event(4, Parent::Root, too_many.values()),
            ReceiveError::TooManyValues {
                callsite: CallsiteId(4),
                name: "wide",
                count: MAX_VALUES + 1,
                max: MAX_VALUES,
                message: "Event",
            },
        );
        // The most that tracing takes is fine.
        let most = Vals::new(&values[..MAX_VALUES]);
        rx.receive(frame(event(4, Parent::Root, most.values())));
        let Some(Op::Event { fields, .. }) = log.ops().pop() else {
            panic!()
        };
        assert_eq!(fields.len(), MAX_VALUES);
        assert_eq!(fields[31], ("f31".to_string(), Val::U64(31)));

        let bad_field = Vals::new(&[(0, Value::Bool(true)), (2, Value::Bool(true))]);
        rejects(
            &mut rx,
            &log,
            event(0, Parent::Root, bad_field.values()),
            ReceiveError::UnknownField {
                callsite: CallsiteId(0),
                name: "event",
                field: 2,
                fields: 2,
                message: "Event",
            },
        );
        let bad_field = Vals::new(&[(1, Value::Bool(true))]);
        rejects(
            &mut rx,
            &log,
            Message::Record {
                span: SpanId(10),
                values: bad_field.values(),
            },
            ReceiveError::UnknownField {
                callsite: CallsiteId(1),
                name: "outer",
                field: 1,
                fields: 1,
                message: "Record",
            },
        );
        rejects(
            &mut rx,
            &log,
            Message::NewSpan {
                id: SpanId(11),
                callsite: CallsiteId(1),
                parent: Parent::Root,
                values: bad_field.values(),
            },
            ReceiveError::UnknownField {
                callsite: CallsiteId(1),
                name: "outer",
                field: 1,
                fields: 1,
                message: "NewSpan",
            },
        );

        // A value that does not decode, in a frame decoded with its values deferred (as the
        // pipeline does): the receiver finds it while reading the values.
        let good = Vals::new(&[(0, Value::Bool(true))]);
        let mut bytes = [0u8; 64];
        let n = event(0, Parent::Root, good.values())
            .encode(&mut bytes)
            .unwrap();
        bytes[n] = 0x1f; // field 1, value kind 15: no such kind
        let bad = Message::decode_deferred(&bytes[..=n]).unwrap();
        assert!(Message::decode(&bytes[..=n]).is_err());
        rejects(
            &mut rx,
            &log,
            bad,
            ReceiveError::BadValue {
                callsite: CallsiteId(0),
                name: "event",
                error: DecodeError::BadTag {
                    what: "value kind",
                    tag: 15,
                },
                message: "Event",
            },
        );

        // After all that, the span tree still works.
        feed(
            &mut rx,
            [
                Message::Enter(SpanId(10)),
                event(0, Parent::Current, Values::EMPTY),
                Message::Exit(SpanId(10)),
            ],
        );
        let last = log.ops();
        assert_eq!(
            event_parents(&last[last.len() - 2..]),
            vec![Some("outer#1".to_string())]
        );
    });
}

#[test]
fn errors_tell_what_and_what_to_do() {
    let unknown = ReceiveError::UnknownCallsite {
        callsite: CallsiteId(7),
        message: "Event",
    };
    assert_eq!(
        unknown.to_string(),
        "unknown call site 7 in Event: the target never announced it \
         (attached late? request a resend of call sites)"
    );
    let version = ReceiveError::VersionMismatch {
        found: 2,
        expected: 1,
    };
    assert!(version.to_string().contains("same rtt-tunnel release"));
    let field = ReceiveError::UnknownField {
        callsite: CallsiteId(3),
        name: "event src/main.rs:9",
        field: 4,
        fields: 2,
        message: "Event",
    };
    assert_eq!(
        field.to_string(),
        "value for field 4 of call site 3 (\"event src/main.rs:9\") in Event, \
         but the call site has 2 fields"
    );
    let kind = ReceiveError::CallsiteKind {
        callsite: CallsiteId(1),
        name: "outer",
        actual: Kind::Span,
        expected: Kind::Event,
        message: "Event",
    };
    assert_eq!(
        kind.to_string(),
        "call site 1 (\"outer\") is a span call site, but Event needs an event call site"
    );
}

#[test]
#[should_panic(expected = "bogus frame from the target: unknown span 5 in Enter")]
fn receive_panics_where_try_receive_errs() {
    let _log = with_capture(|| {
        let mut rx = started();
        rx.receive(Frame {
            exception: 0,
            dt: 1,
            message: Message::Enter(SpanId(5)),
        });
    });
}
