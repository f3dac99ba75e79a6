//! Random streams (bogus ids, resets, untracked spans, persist/restore) never panic the
//! receiver nor the host registry, and leave no span entered (nor open) after drop.

mod receiver_support;

use proptest::prelude::*;
use receiver_support::*;
use rtt_tunnel_host::receiver::{LocalSpans, Receiver};
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, LiveSpan, Message, Parent, SpanId,
    Value, PROTOCOL_VERSION,
};
use tracing_subscriber::layer::SubscriberExt;

const FIELDS: [&str; 4] = ["message", "a", "b", "c"];
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
const FIRMWARE_IDS: [&str; 3] = ["fw a", "fw b", ""];

#[derive(Debug, Clone)]
enum Step {
    Hello {
        version_ok: bool,
        boot: u32,
        firmware: usize,
    },
    CallSite {
        id: u32,
        span: bool,
        level: usize,
        name: usize,
        fields: usize,
    },
    Event {
        callsite: u32,
        parent: Parent,
        values: Vec<(u8, u8)>,
    },
    NewSpan {
        id: u32,
        callsite: u32,
        parent: Parent,
        values: Vec<(u8, u8)>,
    },
    Enter(u32),
    Exit(u32),
    Close(u32),
    Clone(u32),
    Record {
        span: u32,
        values: Vec<(u8, u8)>,
    },
    FollowsFrom(u32, u32),
    Dropped(u32),
    LiveSpan {
        id: u32,
        callsite: u32,
        parent: Parent,
        entered: u32,
    },
    /// Persist and restore, keeping the host spans or not.
    Persist {
        keep_local: bool,
    },
}

fn parent() -> impl Strategy<Value = Parent> {
    prop_oneof![
        3 => Just(Parent::Current),
        1 => Just(Parent::Root),
        2 => (0u32..8).prop_map(|id| Parent::Explicit(SpanId(id))),
    ]
}

fn values() -> impl Strategy<Value = Vec<(u8, u8)>> {
    prop_oneof![
        8 => prop::collection::vec((0u8..5, 0u8..8), 0..5),
        1 => prop::collection::vec((0u8..4, 0u8..8), 30..36),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let span = 0u32..8;
    let callsite = 0u32..7;
    prop_oneof![
        1 => (prop::bool::weighted(0.95), 0u32..3, 0usize..3).prop_map(|(version_ok, boot, firmware)| {
            Step::Hello { version_ok, boot, firmware }
        }),
        3 => (0u32..6, any::<bool>(), 0usize..5, 0usize..3, 0usize..5).prop_map(
            |(id, span, level, name, fields)| Step::CallSite { id, span, level, name, fields }
        ),
        4 => (callsite.clone(), parent(), values())
            .prop_map(|(callsite, parent, values)| Step::Event { callsite, parent, values }),
        4 => (span.clone(), callsite.clone(), parent(), values()).prop_map(
            |(id, callsite, parent, values)| Step::NewSpan { id, callsite, parent, values }
        ),
        4 => span.clone().prop_map(Step::Enter),
        4 => span.clone().prop_map(Step::Exit),
        3 => span.clone().prop_map(Step::Close),
        1 => span.clone().prop_map(Step::Clone),
        1 => (span.clone(), values()).prop_map(|(span, values)| Step::Record { span, values }),
        1 => (span.clone(), span.clone()).prop_map(|(a, b)| Step::FollowsFrom(a, b)),
        1 => (0u32..4).prop_map(Step::Dropped),
        1 => (span, callsite, parent(), 0u32..3).prop_map(|(id, callsite, parent, entered)| {
            Step::LiveSpan { id, callsite, parent, entered }
        }),
        1 => any::<bool>().prop_map(|keep_local| Step::Persist { keep_local }),
    ]
}

fn value(kind: u8) -> Value<'static> {
    match kind {
        0 => Value::Bool(true),
        1 => Value::I64(-1),
        2 => Value::U64(1),
        3 => Value::I128(-1),
        4 => Value::U128(1),
        5 => Value::F64(0.5),
        6 => Value::Str("s"),
        _ => Value::Debug {
            text: "d",
            truncated: kind & 1 == 0,
        },
    }
}

fn vals(values: &[(u8, u8)]) -> Vals {
    let items: Vec<(u8, Value<'_>)> = values.iter().map(|&(f, k)| (f, value(k))).collect();
    Vals::new(&items)
}

const LEVELS: [Level; 5] = [
    Level::Trace,
    Level::Debug,
    Level::Info,
    Level::Warn,
    Level::Error,
];

/// Runs `steps`; returns whether host spans were given up on purpose (a restore without
/// local spans leaves the old ones to the old subscriber).
fn run(rx: &mut Receiver, steps: &[Step], dt: &[i64]) -> bool {
    let mut lost_local = false;
    for (i, step) in steps.iter().enumerate() {
        let dt = dt[i % dt.len()];
        let v;
        let message = match step {
            Step::Hello {
                version_ok,
                boot,
                firmware,
            } => Message::Hello(Hello {
                version: if *version_ok {
                    PROTOCOL_VERSION
                } else {
                    PROTOCOL_VERSION + 1
                },
                boot: *boot,
                tick_hz: 1000,
                firmware: FIRMWARE_IDS[*firmware],
                flash_base: 0,
                flash_len: 0,
            }),
            Step::CallSite {
                id,
                span,
                level,
                name,
                fields,
            } => Message::CallSite(CallSite {
                id: CallsiteId(*id),
                kind: if *span { Kind::Span } else { Kind::Event },
                level: LEVELS[*level],
                name: NAMES[*name],
                target: "fw",
                module_path: None,
                file: None,
                line: Some(*id),
                fields: FieldNames::new(&FIELDS[..(*fields).min(FIELDS.len())]),
            }),
            Step::Event {
                callsite,
                parent,
                values,
            } => {
                v = vals(values);
                Message::Event {
                    callsite: CallsiteId(*callsite),
                    parent: *parent,
                    values: v.values(),
                }
            }
            Step::NewSpan {
                id,
                callsite,
                parent,
                values,
            } => {
                v = vals(values);
                Message::NewSpan {
                    id: SpanId(*id),
                    callsite: CallsiteId(*callsite),
                    parent: *parent,
                    values: v.values(),
                }
            }
            Step::Enter(id) => Message::Enter(SpanId(*id)),
            Step::Exit(id) => Message::Exit(SpanId(*id)),
            Step::Close(id) => Message::Close(SpanId(*id)),
            Step::Clone(id) => Message::Clone(SpanId(*id)),
            Step::Record { span, values } => {
                v = vals(values);
                Message::Record {
                    span: SpanId(*span),
                    values: v.values(),
                }
            }
            Step::FollowsFrom(a, b) => Message::FollowsFrom {
                span: SpanId(*a),
                follows: SpanId(*b),
            },
            Step::Dropped(frames) => Message::Dropped { frames: *frames },
            Step::LiveSpan {
                id,
                callsite,
                parent,
                entered,
            } => Message::LiveSpan(LiveSpan {
                id: SpanId(*id),
                callsite: CallsiteId(*callsite),
                parent: *parent,
                entered: *entered,
            }),
            Step::Persist { keep_local } => {
                let old = std::mem::take(rx);
                let meta = old.persist_metadata();
                let (spans, local) = old.persist();
                let local = if *keep_local {
                    local
                } else {
                    lost_local |= !local.is_empty();
                    LocalSpans::default()
                };
                *rx = Receiver::new(meta, spans, local);
                continue;
            }
        };
        // Errors are expected for bogus steps; panics are not.
        let _ = rx.try_receive(Frame {
            exception: 0,
            dt,
            message,
        });
    }
    lost_local
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_never_panic_nor_leave_spans_entered(
        steps in prop::collection::vec(step(), 0..80),
        dt in prop::collection::vec(-50i64..1000, 1..4),
        start_with_hello in any::<bool>(),
    ) {
        let log = Log::default();
        let dispatch = tracing_core::Dispatch::new(
            tracing_subscriber::registry()
                .with(tracing_subscriber::filter::LevelFilter::DEBUG)
                .with(CaptureLayer::new(log.clone())),
        );
        let lost_local = tracing_core::dispatcher::with_default(&dispatch, || {
            let mut rx = Receiver::default();
            if start_with_hello {
                feed(&mut rx, [hello(0, "fw a")]);
            }
            let lost = run(&mut rx, &steps, &dt);
            drop(rx);
            lost
        });
        prop_assert_eq!(log.unbalanced(), vec![]);
        if !lost_local {
            prop_assert_eq!(log.open_spans(), Vec::<String>::new());
        }
    }
}
