//! Persist a receiver, restore it into a new one, continue the same stream.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::{
    LocalSpans, PersistedMetadata, PersistedSpans, ReceiveError, Receiver,
};
use rtt_tunnel_protocol::{CallsiteId, Message, Parent, SpanId, Value, Values};

fn s(x: &str) -> String {
    x.to_string()
}

/// The first half of a stream: two nested entered spans and one more alive span.
fn first_half(rx: &mut Receiver) {
    let a = Vals::new(&[(0, Value::U64(1))]);
    rx.receive(frame(Message::NewSpan {
        id: SpanId(10),
        callsite: CallsiteId(1),
        parent: Parent::Root,
        values: a.values(),
    }));
    feed(
        rx,
        [
            Message::Enter(SpanId(10)),
            new_span(11, 2, Parent::Current),
            Message::Enter(SpanId(11)),
            new_span(12, 3, Parent::Root),
            Message::Clone(SpanId(12)),
            event(0, Parent::Current, Values::EMPTY),
        ],
    );
}

/// The second half: the same spans, used and closed.
fn second_half(rx: &mut Receiver) {
    feed(
        rx,
        [
            event(0, Parent::Current, Values::EMPTY),
            Message::Exit(SpanId(11)),
            Message::Close(SpanId(11)),
            event(0, Parent::Explicit(SpanId(12)), Values::EMPTY),
            Message::Exit(SpanId(10)),
            Message::Close(SpanId(10)),
            Message::Close(SpanId(12)),
            Message::Close(SpanId(12)),
        ],
    );
}

fn json_round_trip(
    meta: &PersistedMetadata,
    spans: &PersistedSpans,
) -> (PersistedMetadata, PersistedSpans) {
    let meta_json = serde_json::to_string(meta).unwrap();
    let spans_json = serde_json::to_string(spans).unwrap();
    let meta2: PersistedMetadata = serde_json::from_str(&meta_json).unwrap();
    let spans2: PersistedSpans = serde_json::from_str(&spans_json).unwrap();
    assert_eq!(&meta2, meta);
    assert_eq!(&spans2, spans);
    (meta2, spans2)
}

#[test]
fn persist_restore_continue_with_local_spans() {
    let log = with_capture(|| {
        let mut rx = started();
        first_half(&mut rx);
        let ticks = rx.target_time().ticks;
        let meta = rx.persist_metadata();
        let (spans, local) = rx.persist();
        assert_eq!(spans.len(), 3);
        assert_eq!(spans.entered(), &[SpanId(10), SpanId(11)]);
        assert_eq!(spans.boot().unwrap().firmware, FIRMWARE);
        assert_eq!(local.len(), 3);
        assert_eq!(meta.call_sites(FIRMWARE).count(), 4);
        let (meta, spans) = json_round_trip(&meta, &spans);

        let mut rx = Receiver::new(meta, spans, local);
        assert_eq!(rx.target_time().ticks, ticks);
        assert_eq!(rx.entered(), &[SpanId(10), SpanId(11)]);
        // No call site is announced again: they come from the persisted metadata.
        second_half(&mut rx);
        assert_eq!(rx.span_count(), 0);
        assert_eq!(rx.target_time().ticks, ticks + 8);
    });
    let ops = log.ops();
    // Three spans in all: the restored receiver relays into the same host spans.
    let new_spans: Vec<&Op> = ops
        .iter()
        .filter(|op| matches!(op, Op::NewSpan { .. }))
        .collect();
    assert_eq!(new_spans.len(), 3);
    assert_eq!(
        event_parents(&ops),
        vec![Some(s("inner#1")), Some(s("inner#1")), Some(s("other#1"))]
    );
    // Persisting exits on the host and closes nothing; restoring enters again.
    let at = ops
        .iter()
        .position(|op| matches!(op, Op::Event { .. }))
        .unwrap();
    assert_eq!(
        &ops[at + 1..at + 5],
        &[
            Op::Exit(s("inner#1")),
            Op::Exit(s("outer#1")),
            Op::Enter(s("outer#1")),
            Op::Enter(s("inner#1")),
        ]
    );
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
}

#[test]
fn restore_without_local_spans_creates_them_again() {
    // The first host subscriber (a host run that ended).
    let (meta, spans) = {
        let (dispatch, first) = capture();
        let persisted = tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = started();
            first_half(&mut rx);
            let meta = rx.persist_metadata();
            let (spans, _local) = rx.persist();
            (meta, spans)
        });
        // Persisted spans stay open in the old subscriber: they are not the receiver's to close.
        assert_eq!(first.open_spans().len(), 3);
        json_round_trip(&persisted.0, &persisted.1)
    };
    // A new host run, a new subscriber.
    let log = with_capture(|| {
        let mut rx = Receiver::new(meta, spans, LocalSpans::default());
        second_half(&mut rx);
    });
    let ops = log.ops();
    // The entered spans are made again (without values) and entered, parents first;
    // `other` when it is first used.
    assert_eq!(
        &ops[..4],
        &[
            new_span_op("outer#1", None, vec![]),
            Op::Enter(s("outer#1")),
            new_span_op("inner#1", Some("outer#1"), vec![]),
            Op::Enter(s("inner#1")),
        ]
    );
    assert!(ops.contains(&new_span_op("other#1", None, vec![])));
    assert_eq!(
        event_parents(&ops),
        vec![Some(s("inner#1")), Some(s("other#1"))]
    );
    assert_eq!(log.unbalanced(), vec![]);
    assert_eq!(log.open_spans(), Vec::<String>::new());
}

#[test]
fn metadata_applies_only_to_its_firmware() {
    let meta = {
        let mut rx = started();
        feed(&mut rx, [hello(7, "")]);
        // A firmware without identity: its call sites are not persisted.
        feed(&mut rx, [event_site(9, "anonymous", &[])]);
        rx.persist_metadata()
    };
    assert_eq!(meta.firmware().collect::<Vec<_>>(), vec![FIRMWARE]);
    assert_eq!(meta.len(), 4);
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(json[FIRMWARE]["1"]["name"], "outer");
    assert_eq!(json[FIRMWARE]["1"]["kind"], "Span");

    let log = with_capture(|| {
        let mut rx = Receiver::new(meta, PersistedSpans::default(), LocalSpans::default());
        feed(&mut rx, [hello(1, "test-fw 1.0 build 43")]);
        let err = rx
            .try_receive(frame(event(0, Parent::Root, Values::EMPTY)))
            .unwrap_err();
        assert_eq!(
            err,
            ReceiveError::UnknownCallsite {
                callsite: CallsiteId(0),
                message: "Event"
            }
        );
        // The target resets into the build the metadata is for: no announcement needed.
        feed(
            &mut rx,
            [
                hello(2, FIRMWARE),
                new_span(10, 1, Parent::Root),
                event(0, Parent::Explicit(SpanId(10)), Values::EMPTY),
                Message::Close(SpanId(10)),
            ],
        );
        // The metadata it was restored with is still there for the next run.
        assert_eq!(rx.persist_metadata().len(), 4);
    });
    let ops = log.ops();
    assert_eq!(event_parents(&ops).last(), Some(&Some(s("outer#1"))));
}

#[test]
fn persisted_metadata_merges() {
    let mut a = PersistedMetadata::default();
    let data = |name: &str| rtt_tunnel_host::receiver::CallSiteData {
        kind: rtt_tunnel_protocol::Kind::Event,
        level: rtt_tunnel_protocol::Level::Info,
        name: name.into(),
        target: "t".into(),
        module_path: None,
        file: None,
        line: None,
        fields: vec![],
    };
    a.insert("fw a", CallsiteId(0), data("a0"));
    a.insert("", CallsiteId(0), data("ignored"));
    let mut b = PersistedMetadata::default();
    b.insert("fw a", CallsiteId(0), data("a0 new"));
    b.insert("fw a", CallsiteId(1), data("a1"));
    b.insert("fw b", CallsiteId(0), data("b0"));
    a.extend(b);
    assert_eq!(a.len(), 3);
    assert_eq!(a.get("fw a", CallsiteId(0)).unwrap().name, "a0 new");
    assert_eq!(a.get("fw b", CallsiteId(0)).unwrap().name, "b0");
    assert_eq!(a.get("", CallsiteId(0)), None);
}
