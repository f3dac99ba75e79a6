//! Values: every `Visit` method, bounded text, too many values for a frame, the panic event.

use std::string::String;

use super::Target;

#[test]
fn every_value_kind() {
    #[derive(Debug)]
    struct Reading {
        #[allow(dead_code)]
        celsius: i8,
    }
    let t = <Target>::started();
    t.run(|| {
        tracing::info!(
            yes = true,
            no = false,
            i = -5i64,
            u = 7u64,
            small = 3u8,
            big = i128::MIN,
            ubig = u128::MAX,
            x = 1.5f64,
            y = 0.25f32,
            s = "str",
            d = ?Reading { celsius: -3 },
            disp = %"shown",
            "all {}",
            1
        );
    });
    let frames = t.frames();
    assert_eq!(
        frames[1],
        "+0 event cs0 current 0=`all 1` 1=true 2=false 3=-5i 4=7u 5=3u \
         6=-170141183460469231731687303715884105728i128 \
         7=340282366920938463463374607431768211455u128 8=1.5f 9=0.25f 10=\"str\" \
         11=`Reading { celsius: -3 }` 12=`shown`"
    );
}

#[test]
fn errors_and_bytes_go_through_debug() {
    #[derive(Debug)]
    struct Oops;
    impl core::fmt::Display for Oops {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("it broke")
        }
    }
    impl std::error::Error for Oops {}
    let t = <Target>::started();
    t.run(|| {
        let err: &(dyn std::error::Error + 'static) = &Oops;
        tracing::warn!(err, bytes = &b"\x01\xff"[..]);
    });
    assert_eq!(
        t.frames()[1],
        "+0 event cs0 current 0=`it broke` 1=`[01 ff]`"
    );
}

/// Bytes as tracing-core's `HexBytes` formats them (the sender writes that text itself),
/// empty, one byte, and cut at the text limit.
#[test]
fn bytes_read_as_tracing_formats_them() {
    let all: std::vec::Vec<u8> = (0..=255).collect();
    let t = <Target>::started();
    t.run(|| {
        tracing::info!(empty = &b""[..], one = &b"\x0a"[..], all = &all[..]);
    });
    // `HexBytes`'s text, from tracing's own default `record_bytes` and `core::fmt`.
    struct Default(String);
    impl tracing::field::Visit for Default {
        fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn core::fmt::Debug) {
            self.0 = std::format!("{value:?}");
        }
    }
    struct Site;
    impl tracing_core::Callsite for Site {
        fn set_interest(&self, _: tracing_core::Interest) {}
        fn metadata(&self) -> &tracing_core::Metadata<'_> {
            unreachable!("only its identity is used")
        }
    }
    static SITE: Site = Site;
    let hex = |bytes: &[u8]| {
        let fields = tracing::field::FieldSet::new(&["v"], tracing_core::identify_callsite!(&SITE));
        let mut visitor = Default(String::new());
        let field = fields.field("v").unwrap();
        tracing::field::Visit::record_bytes(&mut visitor, &field, bytes);
        visitor.0
    };
    assert_eq!(hex(&all[..2]), "[00 01]");
    let cut = &hex(&all)[..128];
    assert_eq!(
        t.frames()[1],
        std::format!("+0 event cs0 current 0=`[]` 1=`[0a]` 2=`{cut}…`")
    );
    let stats = t.tunnel.stats();
    assert_eq!(stats.values_truncated, 1);
}

#[test]
fn long_text_is_cut_at_the_limit_and_marked() {
    let t = <Target>::started();
    let long: String = "abcdefghij".repeat(20);
    t.run(|| {
        tracing::info!(d = ?long.as_str(), short = "ok");
        tracing::info!(s = long.as_str(), short = "ok");
    });
    let limit =
        crate::Tunnel::<crate::MemoryLink<4096>, super::FakeClock, 4, 8, 4, 256>::TEXT_LIMIT;
    assert_eq!(limit, 128);
    // `Debug` of a `&str` adds quotes.
    let d = std::format!("\"{}", &long[..limit - 1]);
    let s = &long[..limit];
    let frames = t.frames();
    assert_eq!(
        frames[1],
        std::format!("+0 event cs0 current 0=`{d}…` 1=\"ok\"")
    );
    assert_eq!(
        frames[3],
        std::format!("+0 event cs1 current 0=`{s}…` 1=\"ok\"")
    );
    let stats = t.tunnel.stats();
    assert_eq!((stats.values_truncated, stats.values_dropped), (2, 0));
}

#[test]
fn values_beyond_the_frame_are_cut_or_left_out_and_counted() {
    let t = <Target>::started();
    let long: String = "0123456789".repeat(12);
    t.run(|| {
        tracing::info!(a = %long, b = %long, c = 1u32, d = 2u32);
        tracing::info!(a = %long, b = %&long[..100], c = u128::MAX, d = true);
    });
    let frames = t.frames();
    // 256-byte frames hold 238 bytes of message (room for the timestamp, the handler prefix
    // and COBS is kept): the head (1 byte), `a` whole (123 bytes), `b` cut at the room left,
    // `c` in the 2 bytes its shorter length prefix saved, no room for `d`.
    let cut = &long[..111];
    assert_eq!(
        frames[1],
        std::format!("+0 event cs0 current 0=`{long}` 1=`{cut}…` 2=1u")
    );
    // 13 bytes left after `b`: not enough for the 20 of `c`, which becomes an empty text
    // marked as cut; `d` still fits.
    assert_eq!(
        frames[3],
        std::format!(
            "+0 event cs1 current 0=`{long}` 1=`{}` 2=`…` 3=true",
            &long[..100]
        )
    );
    let stats = t.tunnel.stats();
    assert_eq!((stats.values_truncated, stats.values_dropped), (1, 2));
}

#[test]
fn a_call_site_too_large_for_any_frame_is_given_up_and_counted() {
    let t = Target::<4096, 4, 8, 4, 64>::started();
    let event = || tracing::info!(a_rather_long_field_name = 1, another_long_field_name = 2);
    let span = || tracing::info_span!("also_too_large_for_this_frame", with_a_long_field = 1);
    t.run(|| {
        event();
        event();
        // The first span is tracked, but the host never learns of it; then its call site is
        // given up and the next one is untracked.
        let first = span();
        assert_ne!(
            first.id().map(|id| id.into_u64()),
            Some(crate::spans::UNTRACKED_ID)
        );
        let second = span();
        assert_eq!(
            second.id().map(|id| id.into_u64()),
            Some(crate::spans::UNTRACKED_ID)
        );
    });
    // The first event and the first span's `NewSpan` were dropped: their call sites could not
    // be announced. Each drop was reported before the next operation (the second before the
    // first span's close).
    assert_eq!(
        t.frames(),
        [
            "+0 resync live=[] entered=[]",
            "+0 dropped 1",
            "+0 resync live=[] entered=[]",
            "+0 dropped 1"
        ]
    );
    let stats = t.tunnel.stats();
    assert_eq!(stats.frames_dropped, 2, "{stats:?}");
    assert_eq!((stats.events_untracked, stats.spans_untracked), (1, 1));
    t.tunnel.poll();
    assert_eq!(
        t.frames(),
        ["+0 status spans=1 enters=0 events=1 values_dropped=0 cut=0"]
    );
}

#[test]
fn a_panic_is_reported_as_an_error_event() {
    let t = <Target>::started();
    let location = core::panic::Location::caller();
    t.run(|| {
        crate::panic::panic_event(
            &std::format_args!("index {} out of range", 9),
            Some(location),
        )
    });
    let frames = t.frames();
    assert_eq!(
        frames[0],
        "+0 callsite 0 Event Error event [message,location]"
    );
    assert_eq!(
        frames[1],
        std::format!(
            "+0 event cs0 current 0=`index 9 out of range` 1=`{}:{}:{}`",
            location.file(),
            location.line(),
            location.column()
        )
    );
}

#[test]
fn a_frame_longer_than_one_cobs_block_arrives_whole() {
    // A frame buffer over 256 bytes holds bodies of more than one COBS block (254 bytes),
    // which the sender seals the protocol's way.
    let t = <Target<4096, 4, 8, 4, 1024>>::started();
    let part: String = "0123456789".repeat(10);
    t.run(|| {
        tracing::info!(
            a = part.as_str(),
            b = part.as_str(),
            c = part.as_str(),
            short = "ok"
        );
    });
    let frames = t.frames();
    assert_eq!(
        frames[1],
        std::format!("+0 event cs0 current 0=\"{part}\" 1=\"{part}\" 2=\"{part}\" 3=\"ok\"")
    );
    assert_eq!(t.tunnel.stats().frames_dropped, 0);
}
