//! Byte-exact tests: the exact bytes of every message, value kind, frame and request.
//! A change to the wire format shows up here as a diff.

use rtt_tunnel_protocol::{
    CallSite, CallsiteId, Capacity, Constant, FieldNames, Frame, FrameBuilder, Hello, Kind, Level,
    LevelFilter, LiveSpan, Message, Parent, Pushed, Request, Resync, SpanId, SpanIds, Value,
    Values, ValuesWriter,
};

/// The body (message without timestamp or framing) of `msg`.
fn body(msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = msg.encode(&mut buf).unwrap();
    let bytes = buf[..n].to_vec();
    assert_eq!(
        &Message::decode(&bytes).unwrap(),
        msg,
        "round trip of {msg:?}"
    );
    bytes
}

/// A whole frame on the wire: COBS, delimiter included.
fn frame(dt: i64, msg: &Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = Frame {
        exception: 0,
        dt,
        message: *msg,
    }
    .encode(&mut buf)
    .unwrap();
    buf[..n].to_vec()
}

/// Values encoded by a `ValuesWriter`.
fn values(vals: &[(u8, Value<'_>)]) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut w = ValuesWriter::new(&mut buf);
    for (field, value) in vals {
        w.push(*field, *value).unwrap();
    }
    w.values().as_bytes().to_vec()
}

#[test]
fn hello() {
    let msg = Message::Hello(Hello {
        version: 3,
        boot: 7,
        tick_hz: 1_000_000,
        firmware: "demo",
        flash_base: 0x0800_0000,
        flash_len: 0x2000,
    });
    assert_eq!(
        body(&msg),
        [
            0x00, 0x03, 0x07, 0xc0, 0x84, 0x3d, 0x04, b'd', b'e', b'm', b'o', // as in v2
            0x80, 0x80, 0x80, 0x40, // the flash base
            0x80, 0x40, // the flash length
        ]
    );
    // A version-2 Hello (no flash base) is refused by its version, not by its layout.
    assert_eq!(
        Message::decode(&[0x00, 0x02, 0x07, 0xc0, 0x84, 0x3d, 0x04, b'd', b'e', b'm', b'o']),
        Err(rtt_tunnel_protocol::DecodeError::UnsupportedVersion { found: 2 })
    );
}

#[test]
fn callsite() {
    let names = ["message", "x"];
    let msg = Message::CallSite(CallSite {
        id: CallsiteId(2),
        kind: Kind::Event,
        level: Level::Info,
        name: "ev",
        target: "app",
        module_path: Some("app"),
        file: None,
        line: Some(300),
        fields: FieldNames::new(&names),
    });
    #[rustfmt::skip]
    let expected = [
        0x01, 0x02, 0x00, 0x02,             // tag, id, kind, level
        0x02, b'e', b'v',                   // name
        0x03, b'a', b'p', b'p',             // target
        0x01, 0x03, b'a', b'p', b'p',       // module path
        0x00,                               // no file
        0x01, 0xac, 0x02,                   // line 300
        0x07, b'm', b'e', b's', b's', b'a', b'g', b'e', 0x01, b'x', // field names, to the end
    ];
    assert_eq!(body(&msg), expected);

    let span = Message::CallSite(CallSite {
        id: CallsiteId(200),
        kind: Kind::Span,
        level: Level::Error,
        name: "s",
        target: "t",
        module_path: None,
        file: Some("f.rs"),
        line: None,
        fields: FieldNames::new(&[]),
    });
    assert_eq!(
        body(&span),
        [
            0x01, 0xc8, 0x01, 0x01, 0x04, 0x01, b's', 0x01, b't', 0x00, 0x01, 0x04, b'f', b'.',
            b'r', b's', 0x00
        ]
    );
}

#[test]
fn event_and_parents() {
    let v = values(&[(0, Value::U64(42))]);
    let current = Message::Event {
        callsite: CallsiteId(3),
        parent: Parent::Current,
        values: Values::decode(&v).unwrap(),
    };
    // A contextual event folds its call site into the tag: 16 + 5 * 3.
    assert_eq!(body(&current), [0x1f, 0x03, 0x2a]);
    // The long form (tag 2, parent 0) still decodes.
    assert_eq!(
        Message::decode(&[0x02, 0x03, 0x00, 0x03, 0x2a]),
        Ok(current)
    );
    let far = Message::Event {
        callsite: CallsiteId(23),
        parent: Parent::Current,
        values: Values::EMPTY,
    };
    assert_eq!(body(&far), [0x83, 0x01], "call site 23: a two-byte tag");
    let root = Message::Event {
        callsite: CallsiteId(3),
        parent: Parent::Root,
        values: Values::EMPTY,
    };
    assert_eq!(body(&root), [0x02, 0x03, 0x01]);
    let explicit = Message::Event {
        callsite: CallsiteId(3),
        parent: Parent::Explicit(SpanId(129)),
        values: Values::EMPTY,
    };
    assert_eq!(body(&explicit), [0x02, 0x03, 0x02, 0x81, 0x01]);
}

#[test]
fn span_lifecycle() {
    let v = values(&[(1, Value::Bool(true))]);
    let new_span = Message::NewSpan {
        id: SpanId(5),
        callsite: CallsiteId(1),
        parent: Parent::Explicit(SpanId(4)),
        values: Values::decode(&v).unwrap(),
    };
    assert_eq!(body(&new_span), [0x03, 0x05, 0x01, 0x02, 0x04, 0x11]);
    let current = Message::NewSpan {
        id: SpanId(5),
        callsite: CallsiteId(1),
        parent: Parent::Current,
        values: Values::decode(&v).unwrap(),
    };
    // A new span with the current parent folds its call site into the tag: 16 + 5 * 1 + 1.
    assert_eq!(body(&current), [0x16, 0x05, 0x11]);
    // The long form (tag 3, parent 0) still decodes.
    assert_eq!(
        Message::decode(&[0x03, 0x05, 0x01, 0x00, 0x11]),
        Ok(current)
    );
    // Enter, exit and close fold the span into the tag: 16 + 5 * 5 + 2, 3, 4.
    assert_eq!(body(&Message::Enter(SpanId(5))), [0x2b]);
    assert_eq!(body(&Message::Exit(SpanId(5))), [0x2c]);
    assert_eq!(body(&Message::Close(SpanId(5))), [0x2d]);
    // The long forms still decode.
    assert_eq!(
        Message::decode(&[0x04, 0x05]),
        Ok(Message::Enter(SpanId(5)))
    );
    assert_eq!(Message::decode(&[0x05, 0x05]), Ok(Message::Exit(SpanId(5))));
    assert_eq!(
        Message::decode(&[0x06, 0x05]),
        Ok(Message::Close(SpanId(5)))
    );
    assert_eq!(body(&Message::Clone(SpanId(5))), [0x07, 0x05]);
    let v = values(&[(0, Value::I64(-3))]);
    let record = Message::Record {
        span: SpanId(5),
        values: Values::decode(&v).unwrap(),
    };
    assert_eq!(body(&record), [0x08, 0x05, 0x02, 0x05]);
    let follows = Message::FollowsFrom {
        span: SpanId(5),
        follows: SpanId(2),
    };
    assert_eq!(body(&follows), [0x09, 0x05, 0x02]);
    assert_eq!(body(&Message::Dropped { frames: 1000 }), [0x0a, 0xe8, 0x07]);
    let live = Message::LiveSpan(LiveSpan {
        id: SpanId(5),
        callsite: CallsiteId(1),
        parent: Parent::Root,
        entered: 2,
    });
    assert_eq!(body(&live), [0x0b, 0x05, 0x01, 0x01, 0x02]);
    let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
    let resync = Message::Resync(Resync {
        live: SpanIds::write(&[SpanId(1), SpanId(5), SpanId(200)], &mut a).unwrap(),
        entered: SpanIds::write(&[SpanId(1), SpanId(5)], &mut b).unwrap(),
    });
    assert_eq!(
        body(&resync),
        [0x0d, 0x03, 0x01, 0x05, 0xc8, 0x01, 0x02, 0x01, 0x05]
    );
    let status = Message::Status(Capacity {
        spans_untracked: 44,
        enters_untracked: 24,
        events_untracked: 0,
        values_dropped: 1,
        values_truncated: 200,
    });
    assert_eq!(body(&status), [0x0e, 44, 24, 0, 1, 0xc8, 0x01]);
}

#[test]
fn every_value_kind() {
    assert_eq!(values(&[(1, Value::Bool(false))]), [0x10]);
    assert_eq!(values(&[(2, Value::Bool(true))]), [0x21]);
    assert_eq!(values(&[(0, Value::I64(-3))]), [0x02, 0x05]);
    assert_eq!(values(&[(0, Value::I64(i64::MIN))]), {
        let mut v = vec![0x02];
        v.extend([0xff; 9]);
        v.push(0x01);
        v
    });
    assert_eq!(values(&[(0, Value::U64(300))]), [0x03, 0xac, 0x02]);
    assert_eq!(values(&[(0, Value::I128(-1))]), [0x04, 0x01]);
    assert_eq!(values(&[(0, Value::U128(u128::MAX))]), {
        let mut v = vec![0x05];
        v.extend([0xff; 18]);
        v.push(0x03);
        v
    });
    assert_eq!(
        values(&[(0, Value::F64(1.5))]),
        [0x06, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]
    );
    assert_eq!(values(&[(3, Value::Str("hi"))]), [0x37, 0x02, b'h', b'i']);
    let debug = Value::Debug {
        text: "x",
        truncated: false,
    };
    // Field 8 needs a two-byte header.
    assert_eq!(values(&[(8, debug)]), [0x88, 0x01, 0x01, b'x']);
    let cut = Value::Debug {
        text: "ab",
        truncated: true,
    };
    assert_eq!(values(&[(0, cut)]), [0x09, 0x02, b'a', b'b']);
    assert_eq!(
        values(&[(0, Value::Constant("ready"))]),
        [0x0a, 0x05, b'r', b'e', b'a', b'd', b'y']
    );
    assert_eq!(values(&[(1, Value::SameConstant)]), [0x1b]);
    // A constant by reference: 5 bytes at offset 0x1c4 from the start of flash.
    assert_eq!(
        values(&[(
            0,
            Value::FlashText {
                offset: 0x1c4,
                len: 5
            }
        )]),
        [0x0c, 0xc4, 0x03, 0x05]
    );
}

#[test]
fn texts_in_flash_go_by_reference_when_the_sender_says_so() {
    static READY: &str = "ready";
    let mut buf = [0u8; 64];
    let mut w = ValuesWriter::new(&mut buf);
    let flash = |addr: *const u8, len: usize| {
        assert_eq!((addr, len), (READY.as_ptr(), READY.len()));
        Constant::Flash
    };
    let start = READY.as_ptr() as usize - 0x1c4;
    let pushed = w.push_fmt_constant(0, 16, |f| f.write_str(READY), None, start, flash);
    assert_eq!(pushed, Ok(Pushed::Whole));
    // Then a text after it, to show the reference left nothing of the text behind.
    w.push(1, Value::Str("x")).unwrap();
    assert_eq!(
        w.values().as_bytes(),
        [0x0c, 0xc4, 0x03, 0x05, 0x17, 0x01, b'x']
    );
    // A one-byte text, whose reference is longer than the room its text took.
    let mut buf = [0u8; 64];
    let mut w = ValuesWriter::new(&mut buf);
    static BANG: &str = "!";
    let start = (BANG.as_ptr() as usize).wrapping_sub(0x0fff_ffff);
    let pushed = w.push_fmt_constant(
        0,
        16,
        |f| f.write_str(BANG),
        None,
        start,
        |_, _| Constant::Flash,
    );
    assert_eq!(pushed, Ok(Pushed::Whole));
    assert_eq!(w.values().as_bytes(), [0x0c, 0xff, 0xff, 0xff, 0x7f, 0x01]);
    // No room for the reference (5 bytes, 6 needed): nothing is written.
    let mut buf = [0u8; 5];
    let mut w = ValuesWriter::new(&mut buf);
    let pushed = w.push_fmt_constant(
        0,
        16,
        |f| f.write_str(BANG),
        None,
        start,
        |_, _| Constant::Flash,
    );
    assert!(pushed.is_err());
    assert!(w.is_empty());
}

#[test]
fn texts_in_one_piece_go_as_constants_when_the_sender_says_so() {
    static READY: &str = "ready";
    let mut buf = [0u8; 64];
    let mut w = ValuesWriter::new(&mut buf);
    let mut asked = Vec::new();
    let ask = |answer| {
        move |addr: *const u8, len: usize| {
            assert_eq!((addr, len), (READY.as_ptr(), READY.len()));
            answer
        }
    };
    w.push_fmt_constant(0, 16, |f| f.write_str(READY), None, 0, ask(Constant::New))
        .unwrap();
    w.push_fmt_constant(0, 16, |f| f.write_str(READY), None, 0, ask(Constant::Same))
        .unwrap();
    w.push_fmt_constant(0, 16, |f| f.write_str(READY), None, 0, ask(Constant::No))
        .unwrap();
    // Two pieces: never asked, sent as text.
    w.push_fmt_constant(
        1,
        16,
        |f| {
            f.write_str("a")?;
            f.write_str("b")
        },
        None,
        0,
        |_, _| {
            asked.push(());
            Constant::New
        },
    )
    .unwrap();
    // Cut: never asked, sent as cut text.
    assert!(
        w.push_fmt_constant(
            2,
            2,
            |f| f.write_str(READY),
            None,
            0,
            |_, _| {
                asked.push(());
                Constant::New
            }
        )
        .unwrap()
            == Pushed::Cut
    );
    assert!(asked.is_empty());
    assert_eq!(
        w.values().as_bytes(),
        [
            0x0a, 0x05, b'r', b'e', b'a', b'd', b'y', // constant
            0x0b, // the same constant again
            0x08, 0x05, b'r', b'e', b'a', b'd', b'y', // text
            0x18, 0x02, b'a', b'b', // two pieces
            0x29, 0x02, b'r', b'e', // cut
        ]
    );
}

#[test]
fn the_constant_the_host_keeps_is_neither_copied_nor_asked_about() {
    static READY: &str = "ready";
    let same = Some((READY.as_ptr(), READY.len()));
    let never = |_: *const u8, _: usize| -> Constant { panic!("asked") };
    let mut buf = [0u8; 64];
    let mut w = ValuesWriter::new(&mut buf);
    // Exactly the kept piece: the marker.
    let pushed = w.push_fmt_constant(0, 16, |f| f.write_str(READY), same, 0, never);
    assert_eq!(pushed, Ok(Pushed::Same));
    // The kept piece and more: formatted again, sent as text, not asked about.
    let pushed = w.push_fmt_constant(
        1,
        16,
        |f| {
            f.write_str(READY)?;
            f.write_str("!")
        },
        same,
        0,
        never,
    );
    assert_eq!(pushed, Ok(Pushed::Whole));
    // Another piece: asked as usual.
    let pushed = w.push_fmt_constant(2, 16, |f| f.write_str("go"), same, 0, |_, _| Constant::No);
    assert_eq!(pushed, Ok(Pushed::Whole));
    assert_eq!(
        w.values().as_bytes(),
        [
            0x0b, // the same constant
            0x18, 0x06, b'r', b'e', b'a', b'd', b'y', b'!', // text
            0x28, 0x02, b'g', b'o', // text
        ]
    );
}

#[test]
fn debug_values_are_formatted_in_place_and_cut_at_char_boundaries() {
    let mut buf = [0u8; 64];
    let mut w = ValuesWriter::new(&mut buf);
    assert!(!w.push_debug(0, &"é", 16).unwrap());
    // "\"é\"" is 4 bytes; a limit of 2 cuts after the quote, before the 2-byte 'é'.
    assert!(w.push_debug(1, &"é", 2).unwrap());
    assert_eq!(
        w.values().as_bytes(),
        [0x08, 0x04, b'"', 0xc3, 0xa9, b'"', 0x19, 0x01, b'"']
    );
    let long = "a".repeat(300);
    let mut buf = [0u8; 512];
    let mut w = ValuesWriter::new(&mut buf);
    assert!(!w.push_fmt(0, 400, |f| f.write_str(&long)).unwrap());
    // A text of 300 bytes keeps its two-byte length prefix.
    assert_eq!(&w.values().as_bytes()[..3], [0x08, 0xac, 0x02]);
    assert_eq!(w.len(), 303);
}

/// The mark of a value that found no room: what `push_fmt` writes for a text it has no room
/// for, in any room left (none at all, too little for the mark, just enough, more), after
/// other values or none.
#[test]
fn the_cut_mark_is_an_empty_text_marked_as_cut() {
    let mut buf = [0u8; 8];
    let mut w = ValuesWriter::new(&mut buf);
    w.push_cut(3).unwrap();
    assert_eq!(w.values().as_bytes(), [0x39, 0x00]);
    w.push_cut(200).unwrap();
    assert_eq!(w.values().as_bytes(), [0x39, 0x00, 0x89, 0x19, 0x00]);
    assert!(w.push_cut(0).is_err());
    for size in 0..12 {
        for before in [None, Some(Value::U64(300))] {
            for field in [0, 7, 8, 255] {
                let mut a = [0xa5u8; 12];
                let mut b = [0x5au8; 12];
                let (mut wa, mut wb) = (
                    ValuesWriter::new(&mut a[..size]),
                    ValuesWriter::new(&mut b[..size]),
                );
                if let Some(v) = before {
                    let _ = (wa.push(1, v), wb.push(1, v));
                }
                let marked = wa.push_cut(field).is_ok();
                let formatted = wb.push_fmt(field, 0, |f| f.write_str("…"));
                assert_eq!(formatted.is_ok(), marked, "{size} {before:?} {field}");
                assert!(formatted.unwrap_or(true));
                assert_eq!(wa.values(), wb.values(), "{size} {before:?} {field}");
            }
        }
    }
}

#[test]
fn frames() {
    assert_eq!(
        frame(3, &Message::Enter(SpanId(5))),
        [0x03, 0x06, 0x2b, 0x00]
    );
    // A Hello's dt is the time since boot.
    let hello = Message::Hello(Hello {
        version: 3,
        boot: 0,
        tick_hz: 32_768,
        firmware: "",
        flash_base: 0,
        flash_len: 0,
    });
    assert_eq!(
        frame(-1, &hello),
        [0x02, 0x01, 0x02, 0x03, 0x04, 0x80, 0x80, 0x02, 0x01, 0x01, 0x01, 0x00]
    );
    // A body of 300 non-zero bytes spans two COBS blocks.
    let long = "b".repeat(297);
    let hello = Message::Hello(Hello {
        version: 1,
        boot: 1,
        tick_hz: 1,
        firmware: &long,
        flash_base: 1,
        flash_len: 1,
    });
    let wire = frame(1, &hello);
    let mut raw = vec![0x02, 0x00, 0x01, 0x01, 0x01, 0xa9, 0x02];
    raw.extend(long.as_bytes());
    raw.extend([0x01, 0x01]);
    let mut expected = vec![0u8; raw.len() + 3];
    let n = cobs::encode(&raw, &mut expected);
    expected.truncate(n);
    expected.push(0);
    assert_eq!(wire, expected);
}

/// A frame written in an exception handler: the handler prefix (tag 12, the exception number)
/// between the timestamp and the message; in thread mode (0) the frame is the same as ever.
#[test]
fn frames_from_handlers_carry_the_exception_number() {
    let enter = Message::Enter(SpanId(5));
    let encode = |exception| {
        let mut buf = [0u8; 64];
        let n = Frame {
            exception,
            dt: 3,
            message: enter,
        }
        .encode(&mut buf)
        .unwrap();
        buf[..n].to_vec()
    };
    assert_eq!(encode(0), frame(3, &enter));
    // SysTick (15).
    assert_eq!(encode(15), [0x05, 0x06, 0x0c, 0x0f, 0x2b, 0x00]);
    // Device interrupt 200 (exception 216): a two-byte varint.
    assert_eq!(encode(216), [0x06, 0x06, 0x0c, 0xd8, 0x01, 0x2b, 0x00]);
    for exception in [0, 15, 216, u16::MAX] {
        let wire = encode(exception);
        let mut raw = wire[..wire.len() - 1].to_vec();
        let n = cobs::decode_in_place(&mut raw).unwrap();
        let decoded = Frame::decode(&raw[..n]).unwrap();
        assert_eq!((decoded.exception, decoded.message), (exception, enter));
    }
    // The prefix with exception 0 is not a frame a sender writes.
    assert!(Frame::decode(&[0x06, 0x0c, 0x00, 0x2b]).is_err());
}

#[test]
fn frame_builder_appends_values_after_the_head() {
    let mut buf = [0u8; 64];
    let mut b = FrameBuilder::new(&mut buf);
    b.push_message(&Message::Event {
        callsite: CallsiteId(9),
        parent: Parent::Current,
        values: Values::EMPTY,
    })
    .unwrap();
    b.push_values(|w| w.push(0, Value::Str("ok"))).unwrap();
    assert_eq!(b.body(), [0x3d, 0x07, 0x02, b'o', b'k']);
    assert_eq!(
        b.seal(0).unwrap(),
        [0x01, 0x06, 0x3d, 0x07, 0x02, b'o', b'k', 0x00]
    );
}

#[test]
fn frame_builder_reports_a_full_buffer() {
    let mut buf = [0u8; 24];
    let mut b = FrameBuilder::new(&mut buf);
    let long = "x".repeat(64);
    let r = b.push_message(&Message::Hello(Hello {
        version: 1,
        boot: 1,
        tick_hz: 1,
        firmware: &long,
        flash_base: 0,
        flash_len: 0,
    }));
    assert_eq!(r, Err(rtt_tunnel_protocol::EncodeError::BufferFull));
    assert_eq!(
        b.push_values(|w| w.push(0, Value::Str(&long))),
        Err(rtt_tunnel_protocol::EncodeError::BufferFull)
    );
}

#[test]
fn requests() {
    let mut buf = [0u8; 8];
    let n = Request::ResendAll.encode_frame(&mut buf).unwrap();
    assert_eq!(&buf[..n], [0x01, 0x01, 0x00]);
    let n = Request::SetLevel(LevelFilter::Info)
        .encode_frame(&mut buf)
        .unwrap();
    assert_eq!(&buf[..n], [0x03, 0x01, 0x03, 0x00]);
    assert_eq!(
        Request::decode(&[0x01, 0x05]),
        Ok(Request::SetLevel(LevelFilter::Trace))
    );
    assert!(Request::decode(&[0x01, 0x06]).is_err());
    assert!(Request::decode(&[0x00, 0x00]).is_err());
}

#[test]
fn decode_errors() {
    use rtt_tunnel_protocol::DecodeError as E;
    assert_eq!(Message::decode(&[]), Err(E::Truncated));
    assert!(matches!(
        Message::decode(&[0x0f]),
        Err(E::BadTag { tag: 15, .. })
    ));
    assert_eq!(Message::decode(&[0x0d, 0x01]), Err(E::Truncated));
    assert_eq!(
        Message::decode(&[0x2b, 0x00]),
        Err(E::TrailingBytes { count: 1 })
    );
    // A folded new span without its span id.
    assert_eq!(Message::decode(&[0x16]), Err(E::Truncated));
    assert_eq!(
        Message::decode(&[0x04, 0x05, 0x00]),
        Err(E::TrailingBytes { count: 1 })
    );
    assert_eq!(
        Message::decode(&[0x00, 0x04, 0x00, 0x00, 0x00]),
        Err(E::UnsupportedVersion { found: 4 })
    );
    assert!(matches!(
        Message::decode(&[0x02, 0x01, 0x00, 0x0f]),
        Err(E::BadTag {
            what: "value kind",
            tag: 15
        })
    ));
    assert_eq!(
        Message::decode(&[0x02, 0x01, 0x00, 0x80, 0x80, 0x01]),
        Err(E::FieldIndexTooLarge { index: 1024 })
    );
    assert_eq!(
        Message::decode(&[0x02, 0x01, 0x00, 0x07, 0x05, b'a']),
        Err(E::Truncated)
    );
    assert_eq!(
        Message::decode(&[0x02, 0x01, 0x00, 0x07, 0x01, 0xff]),
        Err(E::BadUtf8)
    );
}

/// The byte costs documented in the crate docs.
#[test]
fn documented_costs() {
    let cost = |msg: &Message<'_>, vals: &[(u8, Value<'_>)]| {
        let mut buf = [0u8; 128];
        let mut b = FrameBuilder::new(&mut buf);
        b.push_message(msg).unwrap();
        b.push_values(|w| {
            for (f, v) in vals {
                w.push(*f, *v).unwrap();
            }
        });
        b.seal(63).unwrap().len()
    };
    let event = Message::Event {
        callsite: CallsiteId(21),
        parent: Parent::Current,
        values: Values::EMPTY,
    };
    assert_eq!(cost(&event, &[]), 4);
    assert_eq!(cost(&event, &[(0, Value::U64(127))]), 6);
    assert_eq!(cost(&event, &[(0, Value::U64(u64::from(u32::MAX)))]), 10);
    let three = [
        (0, Value::U64(7)),
        (1, Value::Bool(true)),
        (2, Value::Str("hello")),
    ];
    assert_eq!(cost(&event, &three), 14);
    // A constant message: its first event, by reference; the events after it.
    let reference = Value::FlashText {
        offset: 0x3fff,
        len: 127,
    };
    assert_eq!(cost(&event, &[(0, reference)]), 8);
    assert_eq!(cost(&event, &[(0, Value::SameConstant)]), 5);
    let new_span = Message::NewSpan {
        id: SpanId(127),
        callsite: CallsiteId(21),
        parent: Parent::Current,
        values: Values::EMPTY,
    };
    assert_eq!(cost(&new_span, &[]), 5);
    for msg in [
        Message::Enter(SpanId(21)),
        Message::Exit(SpanId(1)),
        Message::Close(SpanId(9)),
    ] {
        assert_eq!(cost(&msg, &[]), 4);
    }
    // Ids from 22 on cost one more byte in the folded forms.
    assert_eq!(cost(&Message::Enter(SpanId(22)), &[]), 5);
    assert_eq!(cost(&Message::Dropped { frames: 127 }, &[]), 5);
}
