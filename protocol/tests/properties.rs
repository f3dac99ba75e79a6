//! Property tests: every message round-trips through a frame; arbitrary bytes never panic
//! the decoder or the splitter; the splitter recovers from garbage, truncation and any
//! chunking.

use proptest::prelude::*;
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, Capacity, Feed, FieldNames, FieldValue, Frame, FrameBuilder, FrameError,
    FrameSplitter, Hello, Kind, Level, LevelFilter, LiveSpan, Message, NameSource, Parent, Request,
    Resync, SpanId, SpanIds, Value, Values, ValuesWriter, PROTOCOL_VERSION,
};

/// An owned value, so that strategies can own the strings messages borrow.
#[derive(Debug, Clone)]
enum OwnedValue {
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(u64),
    Str(String),
    Debug(String, bool),
    Constant(String),
    SameConstant,
    FlashText(u32, u32),
}

impl OwnedValue {
    fn as_value(&self) -> Value<'_> {
        match self {
            Self::Bool(v) => Value::Bool(*v),
            Self::I64(v) => Value::I64(*v),
            Self::U64(v) => Value::U64(*v),
            Self::I128(v) => Value::I128(*v),
            Self::U128(v) => Value::U128(*v),
            Self::F64(bits) => Value::F64(f64::from_bits(*bits)),
            Self::Str(s) => Value::Str(s),
            Self::Debug(s, t) => Value::Debug {
                text: s,
                truncated: *t,
            },
            Self::Constant(s) => Value::Constant(s),
            Self::SameConstant => Value::SameConstant,
            Self::FlashText(offset, len) => Value::FlashText {
                offset: *offset,
                len: *len,
            },
        }
    }
}

fn value() -> impl Strategy<Value = OwnedValue> {
    prop_oneof![
        any::<bool>().prop_map(OwnedValue::Bool),
        any::<i64>().prop_map(OwnedValue::I64),
        any::<u64>().prop_map(OwnedValue::U64),
        any::<i128>().prop_map(OwnedValue::I128),
        any::<u128>().prop_map(OwnedValue::U128),
        any::<u64>().prop_map(OwnedValue::F64),
        ".{0,40}".prop_map(OwnedValue::Str),
        (".{0,40}", any::<bool>()).prop_map(|(s, t)| OwnedValue::Debug(s, t)),
        ".{0,40}".prop_map(OwnedValue::Constant),
        Just(OwnedValue::SameConstant),
        (any::<u32>(), any::<u32>()).prop_map(|(o, l)| OwnedValue::FlashText(o, l)),
    ]
}

fn span_id() -> impl Strategy<Value = SpanId> {
    prop_oneof![0u32..200, any::<u32>()].prop_map(SpanId)
}

fn callsite_id() -> impl Strategy<Value = CallsiteId> {
    prop_oneof![0u32..200, any::<u32>()].prop_map(CallsiteId)
}

fn parent() -> impl Strategy<Value = Parent> {
    prop_oneof![
        Just(Parent::Current),
        Just(Parent::Root),
        span_id().prop_map(Parent::Explicit)
    ]
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Trace),
        Just(Level::Debug),
        Just(Level::Info),
        Just(Level::Warn),
        Just(Level::Error)
    ]
}

/// An owned message: the strategy's output, turned into a borrowed `Message` for encoding.
#[derive(Debug, Clone)]
enum Spec {
    Hello(u32, u64, String, u32, u32),
    CallSite {
        id: CallsiteId,
        span: bool,
        level: Level,
        strings: [String; 2],
        module_path: Option<String>,
        file: Option<String>,
        line: Option<u32>,
        fields: Vec<String>,
    },
    Event(CallsiteId, Parent, Vec<(u8, OwnedValue)>),
    NewSpan(SpanId, CallsiteId, Parent, Vec<(u8, OwnedValue)>),
    Record(SpanId, Vec<(u8, OwnedValue)>),
    Enter(SpanId),
    Exit(SpanId),
    Close(SpanId),
    Clone(SpanId),
    FollowsFrom(SpanId, SpanId),
    Dropped(u32),
    LiveSpan(LiveSpan),
    Resync(Vec<SpanId>, Vec<SpanId>),
    Status(Capacity),
}

fn values() -> impl Strategy<Value = Vec<(u8, OwnedValue)>> {
    prop::collection::vec((any::<u8>(), value()), 0..6)
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            ".{0,30}",
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(b, t, f, base, len)| Spec::Hello(b, t, f, base, len)),
        (
            callsite_id(),
            any::<bool>(),
            level(),
            ["[a-z_:]{0,20}", "[a-z_:]{0,20}"],
            proptest::option::of("[a-z_:]{0,20}"),
            proptest::option::of("[a-z_/.]{0,20}"),
            proptest::option::of(any::<u32>()),
            prop::collection::vec("[a-z_]{0,10}", 0..8),
        )
            .prop_map(
                |(id, span, level, strings, module_path, file, line, fields)| {
                    Spec::CallSite {
                        id,
                        span,
                        level,
                        strings,
                        module_path,
                        file,
                        line,
                        fields,
                    }
                }
            ),
        (callsite_id(), parent(), values()).prop_map(|(c, p, v)| Spec::Event(c, p, v)),
        (span_id(), callsite_id(), parent(), values())
            .prop_map(|(s, c, p, v)| Spec::NewSpan(s, c, p, v)),
        (span_id(), values()).prop_map(|(s, v)| Spec::Record(s, v)),
        span_id().prop_map(Spec::Enter),
        span_id().prop_map(Spec::Exit),
        span_id().prop_map(Spec::Close),
        span_id().prop_map(Spec::Clone),
        (span_id(), span_id()).prop_map(|(a, b)| Spec::FollowsFrom(a, b)),
        any::<u32>().prop_map(Spec::Dropped),
        (span_id(), callsite_id(), parent(), any::<u32>()).prop_map(
            |(id, callsite, parent, entered)| {
                Spec::LiveSpan(LiveSpan {
                    id,
                    callsite,
                    parent,
                    entered,
                })
            }
        ),
        (
            prop::collection::vec(span_id(), 0..40),
            prop::collection::vec(span_id(), 0..20)
        )
            .prop_map(|(live, entered)| Spec::Resync(live, entered)),
        any::<[u32; 5]>().prop_map(|c| Spec::Status(Capacity {
            spans_untracked: c[0],
            enters_untracked: c[1],
            events_untracked: c[2],
            values_dropped: c[3],
            values_truncated: c[4],
        })),
    ]
}

fn encode_values(vals: &[(u8, OwnedValue)], buf: &mut Vec<u8>) {
    buf.resize(4096, 0);
    let mut w = ValuesWriter::new(buf);
    for (f, v) in vals {
        w.push(*f, v.as_value()).unwrap();
    }
    let n = w.len();
    buf.truncate(n);
}

/// Field names from a slice, one at a time (as a sender reads its field set).
struct SliceNames<'a>(&'a [&'a str]);

impl NameSource for SliceNames<'_> {
    fn name(&self, index: usize) -> &str {
        self.0[index]
    }
}

/// Builds the message of `spec`, calling `f` with it.
fn with_message<R>(spec: &Spec, f: impl FnOnce(&Message<'_>) -> R) -> R {
    let mut vbuf = Vec::new();
    let names: Vec<&str>;
    let source: SliceNames<'_>;
    let (mut lbuf, mut ebuf) = (vec![0u8; 256], vec![0u8; 128]);
    let msg = match spec {
        Spec::Hello(boot, tick_hz, firmware, flash_base, flash_len) => Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            boot: *boot,
            tick_hz: *tick_hz,
            firmware,
            flash_base: *flash_base,
            flash_len: *flash_len,
        }),
        Spec::CallSite {
            id,
            span,
            level,
            strings,
            module_path,
            file,
            line,
            fields,
        } => {
            names = fields.iter().map(String::as_str).collect();
            source = SliceNames(&names);
            // Both ways of giving the names (a sender's field set, or a slice) on alternate
            // call sites: every property below holds for both.
            let fields = if id.0 % 2 == 1 {
                FieldNames::from_source(names.len(), &source)
            } else {
                FieldNames::new(&names)
            };
            Message::CallSite(CallSite {
                id: *id,
                kind: if *span { Kind::Span } else { Kind::Event },
                level: *level,
                name: &strings[0],
                target: &strings[1],
                module_path: module_path.as_deref(),
                file: file.as_deref(),
                line: *line,
                fields,
            })
        }
        Spec::Event(callsite, parent, vals) => {
            encode_values(vals, &mut vbuf);
            Message::Event {
                callsite: *callsite,
                parent: *parent,
                values: Values::decode(&vbuf).unwrap(),
            }
        }
        Spec::NewSpan(id, callsite, parent, vals) => {
            encode_values(vals, &mut vbuf);
            Message::NewSpan {
                id: *id,
                callsite: *callsite,
                parent: *parent,
                values: Values::decode(&vbuf).unwrap(),
            }
        }
        Spec::Record(span, vals) => {
            encode_values(vals, &mut vbuf);
            Message::Record {
                span: *span,
                values: Values::decode(&vbuf).unwrap(),
            }
        }
        Spec::Enter(id) => Message::Enter(*id),
        Spec::Exit(id) => Message::Exit(*id),
        Spec::Close(id) => Message::Close(*id),
        Spec::Clone(id) => Message::Clone(*id),
        Spec::FollowsFrom(span, follows) => Message::FollowsFrom {
            span: *span,
            follows: *follows,
        },
        Spec::Dropped(frames) => Message::Dropped { frames: *frames },
        Spec::LiveSpan(s) => Message::LiveSpan(*s),
        Spec::Resync(live, entered) => Message::Resync(Resync {
            live: SpanIds::write(live, &mut lbuf).unwrap(),
            entered: SpanIds::write(entered, &mut ebuf).unwrap(),
        }),
        Spec::Status(c) => Message::Status(*c),
    };
    f(&msg)
}

/// The reference encoder: postcard through serde, with every tag written out as the
/// protocol's docs give it. The hand-written encoder must produce exactly these bytes.
mod reference {
    use serde::Serialize;

    use super::*;

    /// `Parent` as serde writes an enum: variant index, then the fields.
    #[derive(Serialize)]
    enum P {
        Current,
        Root,
        Explicit(u32),
    }

    fn parent(p: Parent) -> P {
        match p {
            Parent::Current => P::Current,
            Parent::Root => P::Root,
            Parent::Explicit(id) => P::Explicit(id.0),
        }
    }

    fn level(l: Level) -> u8 {
        match l {
            Level::Trace => 0,
            Level::Debug => 1,
            Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
        }
    }

    fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
        let mut buf = vec![0u8; 4096];
        let n = postcard::to_slice(value, &mut buf).unwrap().len();
        out.extend_from_slice(&buf[..n]);
    }

    /// Compact tags: `16 + 5 * x + k`, while that fits a `u32`.
    fn compact(x: u32, k: u32) -> Option<u32> {
        x.checked_mul(5)?.checked_add(16 + k)
    }

    pub(super) fn value(out: &mut Vec<u8>, field: u8, v: &OwnedValue) {
        let kind: u32 = match v {
            OwnedValue::Bool(false) => 0,
            OwnedValue::Bool(true) => 1,
            OwnedValue::I64(_) => 2,
            OwnedValue::U64(_) => 3,
            OwnedValue::I128(_) => 4,
            OwnedValue::U128(_) => 5,
            OwnedValue::F64(_) => 6,
            OwnedValue::Str(_) => 7,
            OwnedValue::Debug(_, false) => 8,
            OwnedValue::Debug(_, true) => 9,
            OwnedValue::Constant(_) => 10,
            OwnedValue::SameConstant => 11,
            OwnedValue::FlashText(..) => 12,
        };
        put(out, &((u32::from(field) << 4) | kind));
        match v {
            OwnedValue::Bool(_) | OwnedValue::SameConstant => {}
            OwnedValue::I64(x) => put(out, x),
            OwnedValue::U64(x) => put(out, x),
            OwnedValue::I128(x) => put(out, x),
            OwnedValue::U128(x) => put(out, x),
            OwnedValue::F64(bits) => put(out, &f64::from_bits(*bits)),
            OwnedValue::Str(t) | OwnedValue::Debug(t, _) | OwnedValue::Constant(t) => {
                put(out, t.as_str())
            }
            // serde writes a struct of two `u32`s as their two varints.
            OwnedValue::FlashText(offset, len) => put(out, &(*offset, *len)),
        }
    }

    fn values(out: &mut Vec<u8>, vals: &[(u8, OwnedValue)]) {
        for (f, v) in vals {
            value(out, *f, v);
        }
    }

    /// `Enter`, `Exit`, `Close`: compact tag of kind `k`, or the long form's tag and the id.
    fn span(out: &mut Vec<u8>, id: u32, k: u32, long: u32) {
        match compact(id, k) {
            Some(t) => put(out, &t),
            None => put(out, &(long, id)),
        }
    }

    /// The message body of `spec`.
    pub(super) fn body(spec: &Spec) -> Vec<u8> {
        let mut out = Vec::new();
        let o = &mut out;
        match spec {
            Spec::Hello(boot, tick_hz, firmware, flash_base, flash_len) => put(
                o,
                &(
                    0u32,
                    PROTOCOL_VERSION,
                    *boot,
                    *tick_hz,
                    firmware.as_str(),
                    *flash_base,
                    *flash_len,
                ),
            ),
            Spec::CallSite {
                id,
                span,
                level: l,
                strings,
                module_path,
                file,
                line,
                fields,
            } => {
                put(o, &(1u32, id.0, u8::from(*span), level(*l)));
                put(o, &(strings[0].as_str(), strings[1].as_str()));
                put(o, &(module_path.as_deref(), file.as_deref(), *line));
                for name in fields {
                    put(o, name.as_str());
                }
            }
            Spec::Event(c, p, vals) => {
                match (p, compact(c.0, 0)) {
                    (Parent::Current, Some(t)) => put(o, &t),
                    _ => put(o, &(2u32, c.0, parent(*p))),
                }
                values(o, vals);
            }
            Spec::NewSpan(id, c, p, vals) => {
                match (p, compact(c.0, 1)) {
                    (Parent::Current, Some(t)) => put(o, &(t, id.0)),
                    _ => put(o, &(3u32, id.0, c.0, parent(*p))),
                }
                values(o, vals);
            }
            Spec::Enter(id) => span(o, id.0, 2, 4),
            Spec::Exit(id) => span(o, id.0, 3, 5),
            Spec::Close(id) => span(o, id.0, 4, 6),
            Spec::Clone(id) => put(o, &(7u32, id.0)),
            Spec::Record(span, vals) => {
                put(o, &(8u32, span.0));
                values(o, vals);
            }
            Spec::FollowsFrom(a, b) => put(o, &(9u32, a.0, b.0)),
            Spec::Dropped(n) => put(o, &(10u32, *n)),
            Spec::LiveSpan(s) => put(
                o,
                &(11u32, s.id.0, s.callsite.0, parent(s.parent), s.entered),
            ),
            Spec::Resync(live, entered) => {
                let ids = |v: &Vec<SpanId>| v.iter().map(|id| id.0).collect::<Vec<u32>>();
                put(o, &(13u32, &ids(live)[..], &ids(entered)[..]));
            }
            Spec::Status(c) => put(
                o,
                &(
                    14u32,
                    c.spans_untracked,
                    c.enters_untracked,
                    c.events_untracked,
                    c.values_dropped,
                    c.values_truncated,
                ),
            ),
        }
        out
    }
}

fn encode_frame(dt: i64, spec: &Spec) -> Vec<u8> {
    encode_frame_in(dt, 0, spec)
}

fn encode_frame_in(dt: i64, exception: u16, spec: &Spec) -> Vec<u8> {
    with_message(spec, |msg| {
        let mut buf = vec![0u8; 8192];
        let n = Frame {
            exception,
            dt,
            message: *msg,
        }
        .encode(&mut buf)
        .unwrap();
        buf.truncate(n);
        buf
    })
}

/// Feeds `chunks` through a splitter, collecting whole frames and errors.
fn split<const N: usize>(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<FrameError>) {
    let mut splitter = FrameSplitter::<N>::new();
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            match splitter.feed(input) {
                Feed::Consumed => break,
                Feed::Frame { frame, rest } => {
                    frames.push(frame.to_vec());
                    input = rest;
                }
                Feed::Error { error, rest } => {
                    errors.push(error);
                    input = rest;
                }
            }
        }
    }
    (frames, errors)
}

fn raw_frame(dt: i64, spec: &Spec) -> Vec<u8> {
    let wire = encode_frame(dt, spec);
    let mut raw = wire[..wire.len() - 1].to_vec();
    let n = cobs::decode_in_place(&mut raw).unwrap();
    raw.truncate(n);
    raw
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips_from_any_exception(
        dt in any::<i64>(),
        exception in any::<u16>(),
        spec in spec(),
    ) {
        let wire = encode_frame_in(dt, exception, &spec);
        prop_assert_eq!(wire.iter().position(|&b| b == 0), Some(wire.len() - 1));
        let (frames, errors) = split::<8192>(&[&wire]);
        prop_assert!(errors.is_empty());
        let frame = Frame::decode(&frames[0]).unwrap();
        prop_assert_eq!((frame.dt, frame.exception), (dt, exception));
        with_message(&spec, |msg| assert_eq!(&frame.message, msg));
        // The readers that leave values unchecked read the frame, context included, alike.
        prop_assert_eq!(Frame::decode_deferred(&frames[0]), Ok(frame));
        if let Some(compact) = Frame::decode_compact(&frames[0]) {
            prop_assert_eq!(compact, frame);
        }
    }

    #[test]
    fn every_message_round_trips(dt in any::<i64>(), spec in spec()) {
        let wire = encode_frame(dt, &spec);
        // Exactly one delimiter, at the end.
        prop_assert_eq!(wire.iter().position(|&b| b == 0), Some(wire.len() - 1));
        let (frames, errors) = split::<8192>(&[&wire]);
        prop_assert!(errors.is_empty());
        prop_assert_eq!(frames.len(), 1);
        let frame = Frame::decode(&frames[0]).unwrap();
        prop_assert_eq!(frame.dt, dt);
        with_message(&spec, |msg| assert_eq!(&frame.message, msg));
        // Values come back value by value, in order.
        if let (Spec::Event(_, _, vals) | Spec::NewSpan(_, _, _, vals) | Spec::Record(_, vals),
                Message::Event { values, .. } | Message::NewSpan { values, .. } | Message::Record { values, .. })
            = (&spec, frame.message)
        {
            let got: Vec<FieldValue<'_>> = values.iter().collect();
            prop_assert_eq!(got.len(), vals.len());
            for (g, (f, v)) in got.iter().zip(vals) {
                prop_assert_eq!(g.field, *f);
                match (g.value, v.as_value()) {
                    (Value::F64(a), Value::F64(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                    (a, b) => prop_assert_eq!(a, b),
                }
            }
        }
    }

    /// The hand-written encoder writes exactly what postcard's serde encoder writes, for
    /// every message kind and every value kind.
    #[test]
    fn hand_encoder_matches_postcard(spec in spec()) {
        let ours = with_message(&spec, |msg| {
            let mut buf = vec![0u8; 8192];
            let n = msg.encode(&mut buf).unwrap();
            buf.truncate(n);
            buf
        });
        prop_assert_eq!(ours, reference::body(&spec));
    }

    /// The out-of-line encoder of the rare messages (`FrameBuilder::push_message_cold`) writes
    /// the same bytes, for every message kind, built by a sender (field names and span ids as
    /// lists) or decoded (as the bytes they came in); and it fails where the inlined encoder
    /// fails, in a buffer too small, leaving the body empty.
    #[test]
    fn cold_encoder_matches_postcard(spec in spec(), size in 0usize..160) {
        let expected = reference::body(&spec);
        let decoded = Message::decode(&expected).unwrap();
        let cold = |msg: &Message<'_>, size: usize| {
            let mut buf = vec![0xa5u8; size];
            let mut frame = FrameBuilder::new(&mut buf);
            frame.push_message_cold(msg).map(|()| frame.body().to_vec())
        };
        let hot = |msg: &Message<'_>, size: usize| {
            let mut buf = vec![0x5au8; size];
            let mut frame = FrameBuilder::new(&mut buf);
            frame.push_message(msg).map(|()| frame.body().to_vec())
        };
        with_message(&spec, |msg| {
            assert_eq!(cold(msg, 8192), Ok(expected.clone()));
            assert_eq!(cold(msg, size), hot(msg, size));
        });
        prop_assert_eq!(cold(&decoded, 8192), Ok(expected.clone()));
        prop_assert_eq!(cold(&decoded, size), hot(&decoded, size));
    }

    /// The same for values pushed one by one, into a buffer that starts out full of garbage
    /// (the sender never zeroes its frame buffer).
    #[test]
    fn values_writer_matches_postcard(vals in values(), garbage in any::<u8>()) {
        let mut buf = vec![garbage; 4096];
        let mut w = ValuesWriter::new(&mut buf);
        let mut expected = Vec::new();
        for (f, v) in &vals {
            w.push(*f, v.as_value()).unwrap();
            reference::value(&mut expected, *f, v);
        }
        prop_assert_eq!(w.values().as_bytes(), &expected[..]);
    }

    #[test]
    fn requests_round_trip(level in 0u8..6, resend in any::<bool>()) {
        let levels = [LevelFilter::Off, LevelFilter::Error, LevelFilter::Warn,
                      LevelFilter::Info, LevelFilter::Debug, LevelFilter::Trace];
        let req = if resend { Request::ResendAll } else { Request::SetLevel(levels[level as usize]) };
        let mut buf = [0u8; 8];
        let n = req.encode_frame(&mut buf).unwrap();
        let (frames, _) = split::<16>(&[&buf[..n]]);
        prop_assert_eq!(Request::decode(&frames[0]), Ok(req));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(frame) = Frame::decode(&bytes) {
            walk(&frame.message);
        }
        if let Ok(msg) = Message::decode(&bytes) {
            walk(&msg);
        }
        let _ = Request::decode(&bytes);
        let _ = Values::decode(&bytes).map(|v| v.iter().count());
        let _ = FieldNames::decode(&bytes).map(|n| n.iter().count());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_splitter(
        bytes in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..600),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(bytes.len() + 1);
        let (frames, _) = split::<64>(&[&bytes[..cut], &bytes[cut..]]);
        for f in &frames {
            prop_assert!(f.len() <= 64);
            let _ = Frame::decode(f);
        }
    }

    #[test]
    fn splitter_survives_garbage_and_chunking(
        specs in prop::collection::vec((any::<i64>(), spec()), 1..8),
        garbage in prop::collection::vec(prop::collection::vec(1u8.., 0..40), 8),
        chunk_sizes in prop::collection::vec(1usize..50, 1..20),
    ) {
        // Stream: garbage, 0, frame, garbage, 0, frame, ...: each frame follows a delimiter,
        // so every frame must come back intact whatever the garbage and the chunking.
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (i, (dt, spec)) in specs.iter().enumerate() {
            stream.extend(&garbage[i]);
            stream.push(0);
            stream.extend(encode_frame(*dt, spec));
            expected.push(raw_frame(*dt, spec));
        }
        let mut chunks = Vec::new();
        let mut rest = &stream[..];
        for size in chunk_sizes.iter().cycle() {
            if rest.is_empty() { break; }
            let (a, b) = rest.split_at((*size).min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        let (frames, _) = split::<8192>(&chunks);
        let recovered: Vec<_> = frames.into_iter().filter(|f| expected.contains(f)).collect();
        prop_assert_eq!(recovered, expected);
    }

    #[test]
    fn truncated_frame_costs_only_itself(
        dt in any::<i64>(), a in spec(), b in spec(), cut in any::<prop::sample::Index>(),
    ) {
        let first = encode_frame(dt, &a);
        let second = encode_frame(dt, &b);
        let cut = cut.index(first.len() - 1); // lose the tail of the first frame
        let mut stream = first[..cut].to_vec();
        stream.extend(&second);
        stream.extend(&second);
        let (frames, _) = split::<8192>(&[&stream]);
        let want = raw_frame(dt, &b);
        // The damaged frame swallows (at most) the second; the third arrives intact.
        prop_assert_eq!(frames.last(), Some(&want));
    }
}

/// Touches every part of a decoded message.
fn walk(msg: &Message<'_>) {
    match msg {
        Message::Event { values, .. }
        | Message::NewSpan { values, .. }
        | Message::Record { values, .. } => {
            for v in values.iter() {
                let _ = format!("{v:?}");
            }
        }
        Message::CallSite(c) => {
            for name in c.fields.iter() {
                let _ = name.len();
            }
        }
        _ => {}
    }
}

#[test]
fn frame_cut_at_every_position() {
    let specs = [
        (5, Spec::Enter(SpanId(3))),
        (
            -7,
            Spec::Event(
                CallsiteId(1),
                Parent::Current,
                vec![(0, OwnedValue::Str("a".repeat(300)))],
            ),
        ),
        (1 << 40, Spec::Dropped(9)),
    ];
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for (dt, spec) in &specs {
        stream.extend(encode_frame(*dt, spec));
        expected.push(raw_frame(*dt, spec));
    }
    for cut in 0..=stream.len() {
        let (frames, errors) = split::<512>(&[&stream[..cut], &stream[cut..]]);
        assert!(errors.is_empty(), "cut at {cut}: {errors:?}");
        assert_eq!(frames, expected, "cut at {cut}");
    }
    // And byte by byte.
    let chunks: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(split::<512>(&chunks).0, expected);
}

#[test]
fn oversized_frames_are_skipped_and_counted() {
    let big = encode_frame(0, &Spec::Hello(1, 1, "x".repeat(100), 0, 0));
    let small = encode_frame(1, &Spec::Enter(SpanId(1)));
    let mut stream = big.clone();
    stream.extend(&small);
    let (frames, errors) = split::<32>(&[&stream[..50], &stream[50..]]);
    assert_eq!(errors, [FrameError::Oversized { len: big.len() - 1 }]);
    assert_eq!(frames, [raw_frame(1, &Spec::Enter(SpanId(1)))]);
}

#[test]
fn zeroed_memory_is_skipped_without_recursion() {
    // A large run of delimiters (zeroed RAM) yields nothing and does not grow the stack.
    let mut stream = vec![0u8; 1 << 20];
    stream.extend(encode_frame(1, &Spec::Exit(SpanId(2))));
    let (frames, errors) = split::<64>(&[&stream]);
    assert!(errors.is_empty());
    assert_eq!(frames.len(), 1);
}

#[test]
fn invalid_cobs_is_an_error_then_resync() {
    // Code byte 5 promises 4 bytes, only 2 follow before the delimiter.
    let mut stream = vec![0x05, 0x01, 0x02, 0x00];
    stream.extend(encode_frame(1, &Spec::Exit(SpanId(2))));
    let (frames, errors) = split::<64>(&[&stream]);
    assert_eq!(errors, [FrameError::Cobs { len: 3 }]);
    assert_eq!(frames.len(), 1);
}

#[test]
fn cobs_block_boundaries_round_trip() {
    // Bodies of every length around one and two full COBS blocks, with and without zeros.
    for len in (240..=270).chain(495..=520) {
        for zero_every in [0usize, 7, 254] {
            let text: String = (0..len)
                .map(|i| {
                    if zero_every > 0 && i % zero_every == 0 {
                        '\0'
                    } else {
                        'z'
                    }
                })
                .collect();
            let spec = Spec::Hello(1, 1, text, 0, 0);
            let wire = encode_frame(3, &spec);
            let (frames, errors) = split::<1024>(&[&wire]);
            assert!(errors.is_empty(), "len {len}");
            let frame = Frame::decode(&frames[0]).unwrap();
            with_message(&spec, |msg| assert_eq!(&frame.message, msg, "len {len}"));
        }
    }
}

/// The values of `message`, if it has any.
/// A decoded value as [`by_bits`] gives it: field, value (an `f64` as 0.0), the `f64`'s bits.
type ByBits<'a> = Result<(u8, Value<'a>, Option<u64>), rtt_tunnel_protocol::DecodeError>;

/// A decoded value in a form `==` compares as the wire does: an `f64` by its bits, so that a
/// NaN equals the same NaN.
fn by_bits<'a>(
    read: impl IntoIterator<Item = Result<FieldValue<'a>, rtt_tunnel_protocol::DecodeError>>,
) -> Vec<ByBits<'a>> {
    read.into_iter()
        .map(|r| {
            r.map(|v| match v.value {
                Value::F64(x) => (v.field, Value::F64(0.0), Some(x.to_bits())),
                value => (v.field, value, None),
            })
        })
        .collect()
}

fn values_of<'a>(message: &Message<'a>) -> Option<Values<'a>> {
    match *message {
        Message::Event { values, .. }
        | Message::NewSpan { values, .. }
        | Message::Record { values, .. } => Some(values),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `Frame::decode_deferred` reads every valid frame as `Frame::decode` does (and so does
    /// `Frame::decode_compact`, where it reads one), and `try_iter` its values as `iter`.
    #[test]
    fn deferred_decoding_matches_decode(dt in any::<i64>(), spec in spec()) {
        let raw = raw_frame(dt, &spec);
        let checked = Frame::decode(&raw).unwrap();
        let deferred = Frame::decode_deferred(&raw).unwrap();
        prop_assert_eq!(deferred, checked);
        if let Some(compact) = Frame::decode_compact(&raw) {
            prop_assert_eq!(compact, checked);
        }
        if let Some(values) = values_of(&deferred.message) {
            let read = by_bits(values.try_iter());
            let expected = by_bits(values.iter().map(Ok));
            prop_assert_eq!(read, expected);
        }
    }

    /// On any bytes, `decode_deferred` plus `try_iter` give what `decode` gives: the same
    /// frame, or the same error (from one or the other); `decode_compact` reads nothing
    /// `decode_deferred` reads otherwise.
    #[test]
    fn deferred_decoding_fails_as_decode_does(
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), 0u8..0x20, Just(0x80u8), Just(0xffu8)], 0..40),
    ) {
        if let Some(compact) = Frame::decode_compact(&bytes) {
            prop_assert_eq!(Frame::decode_deferred(&bytes), Ok(compact));
        }
        let deferred = Frame::decode_deferred(&bytes).map(|frame| {
            let bad = values_of(&frame.message).and_then(|v| v.try_iter().find_map(Result::err));
            (frame, bad)
        });
        match (Frame::decode(&bytes), deferred) {
            (Ok(checked), Ok((frame, None))) => prop_assert_eq!(checked, frame),
            (Err(error), Err(deferred)) => prop_assert_eq!(error, deferred),
            (Err(error), Ok((_, Some(bad)))) => prop_assert_eq!(error, bad),
            (checked, deferred) => prop_assert!(false, "{:?} vs {:?}", checked, deferred),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// `try_iter` reads any bytes as `Values::decode` and `iter` do: the same values, then the
    /// same error.
    #[test]
    fn try_iter_reads_values_as_decode_does(
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), 0u8..0x0c, 0x10u8..0x1c, 0x61u8..0x7b, Just(0x80u8)], 0..40),
    ) {
        // A compact `Event` tag (call site 0) and the bytes as its values.
        let mut frame = vec![0x10];
        frame.extend_from_slice(&bytes);
        let Ok(Message::Event { values, .. }) = Message::decode_deferred(&frame) else {
            panic!("a compact Event tag decodes");
        };
        let read: Vec<_> = values.try_iter().collect();
        match Values::decode(&bytes) {
            Ok(checked) => {
                prop_assert_eq!(by_bits(read), by_bits(checked.iter().map(Ok)));
            }
            Err(error) => {
                prop_assert_eq!(read.last(), Some(&Err(error)));
                let good = read.len() - 1;
                prop_assert!(read[..good].iter().all(Result::is_ok));
                prop_assert_eq!(values.iter().count(), good);
            }
        }
    }
}
