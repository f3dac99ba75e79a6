//! End to end without hardware: the real firmware sender (`rtt-tunnel-sender`) traces into an
//! in-memory ring; the host splits, decodes and relays its bytes; the host subscriber sees the
//! span tree, values and times the firmware produced.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, Request};
use rtt_tunnel_sender::{Identity, MemoryLink};

static TUNNEL: MemoryTunnel = MemoryTunnel::new();
static LATE: MemoryTunnel = MemoryTunnel::new();

/// Splits, decodes and relays `wire`; returns the receive errors.
fn relay(rx: &mut Receiver, wire: &[u8]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut splitter = FrameSplitter::<512>::new();
    let mut input = wire;
    loop {
        match splitter.feed(input) {
            Feed::Consumed => return errors,
            Feed::Frame { frame, rest } => {
                input = rest;
                let frame = Frame::decode(frame).unwrap();
                if let Err(e) = rx.try_receive(frame) {
                    errors.push(e.to_string());
                }
            }
            Feed::Error { error, .. } => panic!("{error}"),
        }
    }
}

/// The firmware's side: ordinary `tracing` code under the sender's dispatcher.
fn firmware() {
    let outer = tracing::info_span!("outer", a = 3u32, later = tracing::field::Empty);
    let _outer = outer.enter();
    tracing::info!(n = 5u64, flag = true, text = "hi", "hello {}", 42);
    {
        let inner = tracing::debug_span!("inner");
        let _inner = inner.enter();
        tracing::warn!(
            x = -1i64,
            big = u128::MAX,
            f = 1.5f64,
            list = ?[1, 2, 3],
            "inside"
        );
    }
    outer.record("later", "recorded");
    let other = tracing::info_span!(parent: None, "detached");
    other.follows_from(&outer);
    tracing::error!(parent: &other, "explicit parent");
}

fn s(x: &str) -> String {
    x.to_string()
}

fn fields_of(op: &Op) -> &Fields {
    match op {
        Op::Event { fields, .. } | Op::NewSpan { fields, .. } | Op::Record { fields, .. } => fields,
        other => panic!("no fields in {other:?}"),
    }
}

#[test]
fn sender_frames_rebuild_the_same_spans_on_the_host() {
    TUNNEL
        .connect(
            MemoryLink::new(),
            Identity {
                boot: 7,
                tick_hz: 1_000,
                firmware: "e2e-firmware 0.1",
            },
        )
        .unwrap();
    let target = TUNNEL.dispatch();
    tracing_core::dispatcher::with_default(&target, firmware);
    let stats = TUNNEL.stats();
    let wire = drain(&TUNNEL);
    assert!(!wire.is_empty(), "the sender wrote nothing: {stats:?}");

    let mut errors = Vec::new();
    let log = with_capture(|| {
        let mut rx = Receiver::default();
        errors = relay(&mut rx, &wire);
        let boot = rx.boot().unwrap();
        assert_eq!((boot.boot, boot.tick_hz), (7, 1_000));
        assert_eq!(boot.firmware, "e2e-firmware 0.1");
        assert_eq!(rx.span_count(), 0, "every span was closed");
        assert!(rx.entered().is_empty());
        assert_eq!(rx.dropped_frames(), 0);
    });
    assert_eq!(errors, Vec::<String>::new());

    let ops = log.ops();
    let spans: Vec<(String, Option<String>)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::NewSpan { span, parent, .. } => Some((span.clone(), parent.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            (s("outer#1"), None),
            (s("inner#1"), Some(s("outer#1"))),
            (s("detached#1"), None),
        ]
    );
    let outer = ops
        .iter()
        .find(|op| matches!(op, Op::NewSpan { span, .. } if span == "outer#1"))
        .unwrap();
    assert_eq!(fields_of(outer), &vec![(s("a"), Val::U64(3))]);

    let events = log.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        event_parents(&events),
        vec![
            Some(s("outer#1")),
            Some(s("inner#1")),
            Some(s("detached#1"))
        ]
    );
    assert_eq!(
        fields_of(&events[0]),
        &vec![
            (s("message"), Val::Debug(s("hello 42"))),
            (s("n"), Val::U64(5)),
            (s("flag"), Val::Bool(true)),
            (s("text"), Val::Str(s("hi"))),
        ]
    );
    assert_eq!(
        fields_of(&events[1]),
        &vec![
            (s("message"), Val::Debug(s("inside"))),
            (s("x"), Val::I64(-1)),
            (s("big"), Val::U128(u128::MAX)),
            (s("f"), Val::F64(1.5)),
            (s("list"), Val::Debug(s("[1, 2, 3]"))),
        ]
    );
    let Op::Event { level, time, .. } = &events[1] else {
        unreachable!()
    };
    assert_eq!(*level, tracing_core::Level::WARN);
    // Target time, from the test clock (10 ticks per reading, 1 kHz): after the start, in
    // order.
    let times: Vec<i64> = events
        .iter()
        .map(|op| match op {
            Op::Event { time: Some(t), .. } => t.ticks,
            _ => panic!("no target time"),
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(times[0] >= 1_000, "{times:?}");
    assert_eq!(time.unwrap().tick_hz.map(|hz| hz.get()), Some(1_000));

    assert!(ops.contains(&Op::Record {
        span: s("outer#1"),
        fields: vec![(s("later"), Val::Str(s("recorded")))],
    }));
    assert!(ops.contains(&Op::FollowsFrom {
        span: s("detached#1"),
        follows: s("outer#1"),
    }));
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
}

#[test]
fn late_attach_with_a_resend_request() {
    LATE.connect(
        MemoryLink::new(),
        Identity {
            boot: 3,
            tick_hz: 1_000,
            firmware: "e2e-firmware 0.1",
        },
    )
    .unwrap();
    let target = LATE.dispatch();
    let (host, log) = capture();
    let mut rx = None;
    let mut errors = Vec::new();
    tracing_core::dispatcher::with_default(&target, || {
        let session = tracing::info_span!("session", id = 9u32);
        let _session = session.enter();
        let status = |n: u64| tracing::info!(n, "status");
        status(1);
        // The host was not there: those frames are gone.
        drop(drain(&LATE));
        tracing::info!("the host attaches now");
        tracing_core::dispatcher::with_default(&host, || {
            let mut receiver = Receiver::default();
            errors.extend(relay(&mut receiver, &drain(&LATE)));
            rx = Some(receiver);
        });
        // The host asks for everything again; the target's main loop polls.
        let mut request = [0u8; 8];
        let n = Request::ResendAll.encode_frame(&mut request).unwrap();
        assert!(LATE
            .with_link(|link| link.push_down(&request[..n]))
            .unwrap());
        LATE.poll();
        status(2);
        drop(_session);
        drop(session);
    });
    tracing_core::dispatcher::with_default(&host, || {
        let mut receiver = rx.take().unwrap();
        errors.extend(relay(&mut receiver, &drain(&LATE)));
        assert_eq!(receiver.resets(), 0, "a re-sent Hello is not a reset");
        assert_eq!(receiver.boot().unwrap().boot, 3);
        assert_eq!(receiver.span_count(), 0);
    });
    assert_eq!(errors, Vec::<String>::new());
    let events = log.events();
    let messages: Vec<(Option<String>, Fields)> = events
        .iter()
        .map(|op| match op {
            Op::Event { parent, fields, .. } => (parent.clone(), fields.clone()),
            _ => unreachable!(),
        })
        .collect();
    // Before the re-send the host knows neither the session nor its Hello; after it, the
    // live span is back and the event is inside it.
    assert_eq!(
        messages,
        vec![
            (
                None,
                vec![(s("message"), Val::Debug(s("the host attaches now")))]
            ),
            (
                Some(s("session#1")),
                vec![
                    (s("message"), Val::Debug(s("status"))),
                    (s("n"), Val::U64(2))
                ]
            ),
        ]
    );
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
}
