//! The leak cap: past it, call sites are refused with a typed error; identical call sites
//! cost nothing. One test in its own binary: the arena and its limit are process-wide.

mod receiver_support;

use receiver_support::*;
use rtt_tunnel_host::receiver::{
    leak_stats, set_leak_limit, LeakStats, LocalSpans, PersistedSpans, ReceiveError, Receiver,
    DEFAULT_LEAK_LIMIT,
};
use rtt_tunnel_protocol::{CallSite, CallsiteId, FieldNames, Kind, Level, Message, Parent, Values};

fn long_site(id: u32, name: &'static str) -> Message<'static> {
    Message::CallSite(CallSite {
        id: CallsiteId(id),
        kind: Kind::Event,
        level: Level::Info,
        name,
        target: "fw::arena",
        module_path: None,
        file: None,
        line: None,
        fields: FieldNames::new(&[]),
    })
}

#[test]
fn leak_limit_refuses_new_call_sites_and_keeps_working() {
    assert_eq!(leak_stats().limit, DEFAULT_LEAK_LIMIT);
    let log = with_capture(|| {
        let mut rx = started();
        let before = leak_stats();
        assert!(before.call_sites >= 4);
        assert!(before.strings >= 4);
        feed(&mut rx, [long_site(20, "first long call site name")]);
        let after = leak_stats();
        assert_eq!(after.call_sites, before.call_sites + 1);
        assert!(after.leaked_bytes > before.leaked_bytes + "first long call site name".len());

        // Room for nothing new.
        set_leak_limit(after.leaked_bytes + 8);
        let name: &'static str = Box::leak("x".repeat(100).into_boxed_str());
        let err = rx.try_receive(frame(long_site(21, name))).unwrap_err();
        let ReceiveError::ArenaFull {
            callsite,
            needed,
            leaked,
            limit,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(callsite, CallsiteId(21));
        assert!(needed > 100);
        assert_eq!(leaked, after.leaked_bytes);
        assert_eq!(limit, after.leaked_bytes + 8);
        // The facts, not a fix that names a library function (the CLI names its option).
        let message = err.to_string();
        assert!(
            message.contains(&format!("of the {limit} allowed")),
            "{message}"
        );
        assert!(!message.contains("set_leak_limit"), "{message}");
        assert_eq!(
            leak_stats(),
            LeakStats { limit, ..after },
            "a refused call site leaks nothing"
        );

        // The refused call site is unknown; everything else works.
        let err = rx
            .try_receive(frame(event(21, Parent::Root, Values::EMPTY)))
            .unwrap_err();
        assert!(matches!(err, ReceiveError::UnknownCallsite { .. }));
        rx.receive(frame(event(20, Parent::Root, Values::EMPTY)));

        // An identical call site (a reset, another receiver of the same build) costs nothing.
        let mut other = Receiver::default();
        feed(&mut other, standard_preamble(1));
        feed(&mut other, [long_site(20, "first long call site name")]);
        assert_eq!(leak_stats().leaked_bytes, after.leaked_bytes);

        // Persisted call sites are leaked when first used: the error comes then.
        let mut meta = rx.persist_metadata();
        meta.insert(FIRMWARE, CallsiteId(30), {
            let mut data = meta.get(FIRMWARE, CallsiteId(0)).unwrap().clone();
            data.name = "y".repeat(100);
            data
        });
        let mut restored = Receiver::new(meta, PersistedSpans::default(), LocalSpans::default());
        feed(&mut restored, [hello(2, FIRMWARE)]);
        let err = restored
            .try_receive(frame(event(30, Parent::Root, Values::EMPTY)))
            .unwrap_err();
        assert!(matches!(
            err,
            ReceiveError::ArenaFull {
                callsite: CallsiteId(30),
                ..
            }
        ));

        // Raise the limit: the same frames go through.
        set_leak_limit(DEFAULT_LEAK_LIMIT);
        restored.receive(frame(event(30, Parent::Root, Values::EMPTY)));
        rx.receive(frame(long_site(21, name)));
        rx.receive(frame(event(21, Parent::Root, Values::EMPTY)));
        assert_eq!(leak_stats().call_sites, after.call_sites + 2);
    });
    let names: Vec<String> = log
        .events()
        .into_iter()
        .map(|op| match op {
            Op::Event { name, .. } => name,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            "first long call site name".to_string(),
            "y".repeat(100),
            "x".repeat(100)
        ]
    );
}
