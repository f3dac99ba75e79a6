//! What every run must show besides its snapshot: the checks shared by the QEMU runs and the
//! replays of their captures.

use std::collections::HashMap;

use rtt_tunnel_host::capture::{CaptureReader, Record};
use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, Message, Value as WireValue};

use crate::boards::Board;
use crate::layer::{check_times, is_receiver_event, span_name, Entry, Op, Val};
use crate::scenario::{is_burst_traffic, span_names, Run, Scenario, LATE_ATTACH_WAITING};

/// Longest a scenario runs on the target, in seconds (a bound for the time check).
const MAX_TARGET_SECONDS: u64 = 60;

/// Events in the `burst` firmware's burst.
pub const BURST_EVENTS: u64 = 400;

/// The sender's text limit (`FRAME / 2` of the default 256-byte frame).
pub const TEXT_LIMIT: usize = 128;

/// One message of a capture, as much as the checks need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A `Hello` of this boot.
    Hello {
        /// Its boot value.
        boot: u32,
    },
    /// A call site announcement, by name.
    CallSite {
        /// Its name.
        name: String,
    },
    /// A re-sent live span, with its entered count.
    LiveSpan {
        /// Times it is entered on the target.
        entered: u32,
    },
    /// An event, with the call-site constants among its values: their texts when sent in
    /// full or by reference (resolved from the capture's records), and how many went as the
    /// one-byte marker.
    Event {
        /// Texts sent as new constants.
        constants: Vec<String>,
        /// How many of them went by reference (a flash offset and a length).
        references: usize,
        /// Values sent as the marker of a constant sent before.
        markers: usize,
    },
    /// Anything else.
    Other,
}

/// Decodes every frame of a capture's data records (resetting the splitter at reset
/// records), independently of the session's pipeline.
///
/// # Panics
///
/// When the capture does not read or a frame does not decode.
pub fn sent_messages(capture: &[u8]) -> Vec<Sent> {
    // The texts the host resolved, which the capture records after the frames that need them.
    let texts: HashMap<u64, String> = CaptureReader::new(capture)
        .expect("a capture file")
        .filter_map(|record| match record.expect("a readable capture") {
            Record::FlashText { address, text } => Some((address, text)),
            _ => None,
        })
        .collect();
    let mut flash_base = None;
    let mut reader = CaptureReader::new(capture).expect("a capture file");
    let mut splitter = Box::new(FrameSplitter::<4096>::new());
    let mut out = Vec::new();
    while let Some(record) = reader.next_record().expect("a readable capture") {
        let bytes = match record {
            Record::Data(bytes) => bytes,
            Record::Reset { .. } => {
                splitter.reset();
                continue;
            }
            _ => continue,
        };
        let mut input = &bytes[..];
        loop {
            match splitter.feed(input) {
                Feed::Consumed => break,
                Feed::Error { error, .. } => panic!("a bad frame in the capture: {error}"),
                Feed::Frame { frame, rest } => {
                    input = rest;
                    let frame = Frame::decode(frame).expect("a frame that decodes");
                    out.push(match frame.message {
                        Message::Hello(hello) => {
                            flash_base = Some(u64::from(hello.flash_base));
                            Sent::Hello { boot: hello.boot }
                        }
                        Message::CallSite(site) => Sent::CallSite {
                            name: site.name.to_owned(),
                        },
                        Message::LiveSpan(live) => Sent::LiveSpan {
                            entered: live.entered,
                        },
                        Message::Event { values, .. } => Sent::Event {
                            constants: values
                                .iter()
                                .filter_map(|v| match v.value {
                                    WireValue::Constant(text) => Some(text.to_owned()),
                                    WireValue::FlashText { offset, len } => {
                                        let base = flash_base.expect("a Hello before a reference");
                                        let text = texts.get(&(base + u64::from(offset)));
                                        let text = text.unwrap_or_else(|| {
                                            panic!("a reference the capture has no text for")
                                        });
                                        assert_eq!(text.len(), len as usize, "{text:?}");
                                        Some(text.clone())
                                    }
                                    _ => None,
                                })
                                .collect(),
                            references: values
                                .iter()
                                .filter(|v| matches!(v.value, WireValue::FlashText { .. }))
                                .count(),
                            markers: values
                                .iter()
                                .filter(|v| v.value == WireValue::SameConstant)
                                .count(),
                        },
                        _ => Sent::Other,
                    });
                }
            }
        }
    }
    out
}

/// The first event with this message.
///
/// # Panics
///
/// When there is none.
pub fn event<'a>(ops: &'a [Entry], message: &str) -> &'a Entry {
    ops.iter()
        .find(|entry| entry.op.message() == Some(message))
        .unwrap_or_else(|| panic!("no event {message:?} in {ops:#?}"))
}

/// The name of the event's or new span's parent.
fn parent_of(entry: &Entry) -> Option<&str> {
    entry.op.parent().map(span_name)
}

/// The span created with this name (the first one).
fn new_span<'a>(ops: &'a [Entry], name: &str) -> &'a Entry {
    ops.iter()
        .find(|e| matches!(&e.op, Op::NewSpan { span, .. } if span_name(span) == name))
        .unwrap_or_else(|| panic!("no span {name:?} in {ops:#?}"))
}

fn position(ops: &[Entry], what: impl Fn(&Op) -> bool, describe: &str) -> usize {
    ops.iter()
        .position(|entry| what(&entry.op))
        .unwrap_or_else(|| panic!("no {describe} in {ops:#?}"))
}

/// Checks what every run must show, then what its scenario must show. The exit code and
/// QEMU's output are checked for QEMU runs only (a replay has neither).
///
/// # Panics
///
/// With what is wrong.
pub fn check_run(run: &Run, board: &Board) {
    let ops = &run.ops;
    let what = format!("{} on {}", run.scenario.name(), board.machine);
    if let Some(code) = run.exit_code {
        assert_eq!(
            code,
            run.scenario.expected_exit_code(),
            "{what}: exit code; QEMU printed: {}",
            run.qemu_output
        );
    }
    if let Err(error) = check_times(ops, board.tick_hz, MAX_TARGET_SECONDS) {
        panic!("{what}: target times: {error}");
    }
    check_run_timeline(run, &what);
    assert_eq!(
        run.stats.errors(),
        0,
        "{what}: frame, decode or receive errors: {:?}",
        run.stats
    );
    if !matches!(run.scenario, Scenario::Burst | Scenario::Churn) {
        assert_eq!(run.stats.dropped_frames, 0, "{what}: dropped frames");
    }
    // Every text the target sent by reference was resolved (live: read from target memory
    // through the GDB transport, without the ELF; replayed: from the capture's records).
    assert_eq!(
        run.stats.unresolved_texts, 0,
        "{what}: texts sent by reference not resolved"
    );
    // Nothing dangles: every span is closed, every enter exited, and no operation names a
    // span the host never saw created.
    let count = |f: fn(&Op) -> bool| ops.iter().filter(|e| f(&e.op)).count();
    assert_eq!(
        count(|k| matches!(k, Op::NewSpan { .. })),
        count(|k| matches!(k, Op::Close(_))),
        "{what}: spans created and closed"
    );
    assert_eq!(
        count(|k| matches!(k, Op::Enter(_))),
        count(|k| matches!(k, Op::Exit(_))),
        "{what}: enters and exits"
    );
    let text = run.text();
    assert!(!text.contains("#?"), "{what}: an unknown span in\n{text}");

    match run.scenario {
        Scenario::Nested => {
            check_nested(ops);
            check_nested_references(run);
        }
        Scenario::Instrument => check_instrument(ops),
        Scenario::Values => check_values(ops),
        Scenario::Interrupt => check_interrupt(ops),
        Scenario::Burst => check_burst(run),
        Scenario::Reset => check_reset(run),
        Scenario::Panic => check_panic(run),
        Scenario::LateAttach => check_late_attach(run),
        Scenario::Tricky => {} // compared with the native run (`tests/differential.rs`)
        Scenario::Churn => check_churn(run),
        Scenario::Capacity => check_capacity(run),
    }
}

/// `info!("in outer")`, a constant message, went by reference in its first event and as the
/// marker in the next ones, and the host printed its text each time.
fn check_nested_references(run: &Run) {
    let mut by_reference = 0;
    let mut markers = 0;
    for sent in sent_messages(&run.capture) {
        if let Sent::Event {
            constants,
            references,
            markers: m,
        } = sent
        {
            if constants.iter().any(|c| c == "in outer") {
                assert_eq!(references, 1, "{constants:?}");
                by_reference += 1;
            }
            markers += m;
        }
    }
    assert_eq!(by_reference, 1, "`in outer` sent by reference once");
    assert!(markers > 0, "no marker of a constant sent before");
    let shown = run
        .ops
        .iter()
        .filter(|e| e.op.message() == Some("in outer"))
        .count();
    assert!(shown > 0, "`in outer` printed with its text");
}

/// The text of a `&str` or `Debug` field of an event.
fn text_field<'a>(op: &'a Op, name: &str) -> Option<&'a str> {
    op.event_field(name).and_then(Val::as_text)
}

/// The firmware's drop count in its `done` event of scenario `scenario` (`dropped`): not 0
/// (the ring overflowed, so the scenario tests something) and the receiver's total. Returns it.
fn check_drop_count(run: &Run, done: &Op, scenario: &str) -> u64 {
    let counted = done
        .event_field("dropped")
        .and_then(Val::as_u64)
        .expect("the firmware's drop count");
    assert!(
        counted > 0,
        "the {scenario} did not overflow the ring: the scenario tests nothing"
    );
    assert_eq!(
        run.stats.dropped_frames, counted,
        "the receiver's total of dropped frames and the firmware's own count"
    );
    counted
}

/// `churn`: the host's drop count is the target's; when the target has closed and exited
/// everything ("churn done"), so has the host; every event the host got is in the span the
/// target had it in.
fn check_churn(run: &Run) {
    let ops = &run.ops;
    let done = position(
        ops,
        |op| op.message() == Some("churn done"),
        "firmware's \"churn done\"",
    );
    check_drop_count(run, &ops[done].op, "churn");
    let before = &ops[..done];
    let count = |f: fn(&Op) -> bool| before.iter().filter(|e| f(&e.op)).count();
    assert_eq!(
        count(|k| matches!(k, Op::NewSpan { .. })),
        count(|k| matches!(k, Op::Close(_))),
        "spans the target had closed are open on the host"
    );
    assert_eq!(
        count(|k| matches!(k, Op::Enter(_))),
        count(|k| matches!(k, Op::Exit(_))),
        "entries the target had exited are entered on the host"
    );
    let mut checked = 0;
    for entry in before {
        let Op::Event { parent, .. } = &entry.op else {
            continue;
        };
        let Some(expect) = text_field(&entry.op, "expect") else {
            continue;
        };
        let parent = parent.as_deref().map(span_name).unwrap_or("root");
        assert_eq!(parent, expect, "the parent of {:?}", entry.op);
        checked += 1;
    }
    assert!(checked > 0, "no event of the churn arrived");
    assert!(
        run.stats.reconciled.resyncs > 0,
        "no `Resync` after the losses: {:?}",
        run.stats
    );
}

/// `capacity`: the host warns once per capacity that overflowed, with the target's count and
/// the fix.
fn check_capacity(run: &Run) {
    let ops = &run.ops;
    let done = &event(ops, "capacity done").op;
    let count = |name| {
        done.event_field(name)
            .and_then(Val::as_u64)
            .unwrap_or_else(|| panic!("the firmware's {name}"))
    };
    let (spans, enters) = (count("spans_untracked"), count("enters_untracked"));
    assert!(spans >= 32 && enters >= 16, "{spans} {enters}");
    let warnings: Vec<&str> = ops
        .iter()
        .filter(|e| is_receiver_event(&e.op))
        .filter_map(|e| e.op.message())
        .filter(|m| m.starts_with("raise "))
        .collect();
    assert_eq!(
        warnings.len(),
        2,
        "one warning per capacity that overflowed: {warnings:?}"
    );
    let spans_warning = format!("raise SPANS in `Tunnel<…>`: {spans} spans were not tracked");
    let enters_warning = format!("raise DEPTH in `Tunnel<…>`: {enters} enters were not tracked");
    assert!(
        warnings.iter().any(|w| w.starts_with(&spans_warning)),
        "{spans_warning:?} in {warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.starts_with(&enters_warning)),
        "{enters_warning:?} in {warnings:?}"
    );
    let c = run.stats.target_capacity;
    assert_eq!(
        (u64::from(c.spans_untracked), u64::from(c.enters_untracked)),
        (spans, enters)
    );
}

fn check_nested(ops: &[Entry]) {
    assert_eq!(
        span_names(ops),
        [
            "outer",
            "middle",
            "inner",
            "inner",
            "again",
            "detached",
            "child_of_detached"
        ]
    );
    assert_eq!(parent_of(event(ops, "in inner")).unwrap(), "inner");
    assert!(parent_of(new_span(ops, "detached")).is_none());
    assert_eq!(
        parent_of(event(ops, "explicit parent")).unwrap(),
        "detached"
    );
    assert!(ops.iter().any(|e| matches!(&e.op,
        Op::FollowsFrom { span, follows }
            if span_name(span) == "detached" && span_name(follows) == "outer")));
    assert!(ops.iter().any(|e| matches!(&e.op,
        Op::Record { span, fields } if span_name(span) == "outer"
            && fields == &vec![("later".to_owned(), Val::U64(42))])));
}

fn check_instrument(ops: &[Entry]) {
    let names = span_names(ops);
    assert_eq!(
        names,
        [
            "add", "scale", "checksum", "parse", "parse", "renamed", "fib", "fib", "fib", "fib",
            "fib"
        ]
    );
    let Op::NewSpan { fields, .. } = &new_span(ops, "add").op else {
        unreachable!()
    };
    assert_eq!(
        fields,
        &vec![
            ("a".to_owned(), Val::U64(3)),
            ("b".to_owned(), Val::I64(-10))
        ]
    );
    let renamed = new_span(ops, "renamed");
    let Op::NewSpan { fields, .. } = &renamed.op else {
        unreachable!()
    };
    let meta = renamed.metadata.expect("a new span's metadata");
    assert_eq!(
        (meta.target(), *meta.level()),
        ("scenarios::custom", tracing_core::Level::WARN)
    );
    assert_eq!(
        fields[0],
        (
            "point".to_owned(),
            Val::Debug("Point { x: 3, y: -4 }".into())
        )
    );
    // `err` reports the error of the second parse, by Display.
    let error = ops
        .iter()
        .find(|e| e.op.event_field("error").is_some())
        .expect("the error event of #[instrument(err)]");
    assert_eq!(
        error.op.event_field("error"),
        Some(&Val::Debug("not a digit at byte 2".into()))
    );
    // `ret` of the recursion: five return events, the last one fib(3) = 2.
    let returns: Vec<&Val> = ops
        .iter()
        .filter(|e| parent_of(e) == Some("fib"))
        .filter_map(|e| e.op.event_field("return"))
        .collect();
    assert_eq!(returns.len(), 5, "{returns:?}");
    assert_eq!(returns[4], &Val::Debug("2".into()));
}

fn check_values(ops: &[Entry]) {
    let field = |message: &str, name: &str| {
        event(ops, message)
            .op
            .event_field(name)
            .unwrap_or_else(|| panic!("no field {name} in {message:?}"))
            .clone()
    };
    assert_eq!(field("bool", "yes"), Val::Bool(true));
    assert_eq!(field("bool", "no"), Val::Bool(false));
    assert_eq!(field("signed", "i8_min"), Val::I64(i64::from(i8::MIN)));
    assert_eq!(field("signed", "i64_min"), Val::I64(i64::MIN));
    assert_eq!(field("unsigned", "u64_max"), Val::U64(u64::MAX));
    assert_eq!(field("unsigned", "u32_max"), Val::U64(u64::from(u32::MAX)));
    assert_eq!(field("wide", "i128_min"), Val::I128(i128::MIN));
    assert_eq!(field("wide", "u128_max"), Val::U128(u128::MAX));
    assert_eq!(field("float", "pi"), Val::F64(std::f64::consts::PI));
    assert_eq!(field("float", "half_f32"), Val::F64(0.5));
    assert_eq!(field("float", "infinity"), Val::F64(f64::INFINITY));
    assert_eq!(
        field("str", "text"),
        Val::Str("hello \"quoted\" \\ world".into())
    );
    assert_eq!(field("str", "unicode"), Val::Str("grüße ✓".into()));
    assert_eq!(field("str", "empty"), Val::Str(String::new()));
    assert_eq!(
        field("debug", "reading"),
        Val::Debug(r#"Reading { sensor: "t0", celsius: 21.5, flags: [true, false] }"#.into())
    );
    assert_eq!(field("display", "version"), Val::Debug("v1.2.3".into()));
    assert_eq!(
        field("an error, by Display and by Debug", "error"),
        Val::Debug("bus timeout after 50 ms".into())
    );
    assert_eq!(field("bytes", "bytes"), Val::Debug("[00 01 fe]".into()));
    // Cut at the text limit, and marked.
    let long = field("a Debug value cut at the text limit", "long");
    let long = long.as_text().expect("text");
    assert!(long.ends_with('…'), "{long}");
    assert_eq!(long.trim_end_matches('…').len(), TEXT_LIMIT, "{long}");
    assert!(
        long.starts_with("Long { samples: [0, 1000, 2000,"),
        "{long}"
    );
    let long_str = field("a str cut at the text limit", "long_str");
    let long_str = long_str.as_text().expect("text");
    assert!(long_str.ends_with('…'), "{long_str}");
    assert_eq!(
        long_str.trim_end_matches('…').len(),
        TEXT_LIMIT,
        "{long_str}"
    );
    assert_eq!(
        event(ops, "formatted message: 1 + 2 = Some(3)")
            .op
            .message(),
        Some("formatted message: 1 + 2 = Some(3)")
    );
}

fn check_interrupt(ops: &[Entry]) {
    // The handlers' spans are not children of the thread-mode spans they preempted (`step`,
    // `wait_for_systick`): roots, with what the handler traced inside them.
    assert_eq!(parent_of(new_span(ops, "pendsv")), None);
    assert_eq!(parent_of(event(ops, "in PendSV")).unwrap(), "pendsv");
    let ticks: Vec<&Entry> = ops
        .iter()
        .filter(|e| matches!(&e.op, Op::NewSpan { span, .. } if span_name(span) == "systick"))
        .collect();
    assert_eq!(ticks.len(), 3);
    for tick in ticks {
        assert_eq!(parent_of(tick), None);
    }
    assert_eq!(
        event(ops, "back from PendSV").op.event_field("runs"),
        Some(&Val::U64(1))
    );
}

fn check_burst(run: &Run) {
    let ops = &run.ops;
    // `info!(i, payload = PAYLOAD, "burst event")`: its constant message goes in full once
    // (again after a frame that carried it was dropped), then as a one-byte marker, and the
    // host prints the text every time (the count of "burst event" events below).
    let (mut constants, mut markers) = (Vec::new(), 0);
    for sent in sent_messages(&run.capture) {
        if let Sent::Event {
            constants: c,
            markers: m,
            ..
        } = sent
        {
            constants.extend(c);
            markers += m;
        }
    }
    let in_full = constants.iter().filter(|c| *c == "burst event").count();
    assert!(
        in_full > 0,
        "the burst's message was never sent as a constant: {constants:?}"
    );
    let received: Vec<u64> = ops
        .iter()
        .filter(|e| e.op.message() == Some("burst event"))
        .map(|e| e.op.event_field("i").and_then(Val::as_u64).expect("i"))
        .collect();
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "burst events out of order: {received:?}"
    );
    let reported: u64 = ops
        .iter()
        .filter(|e| is_receiver_event(&e.op) && is_burst_traffic(&e.op))
        .map(|e| {
            e.op.event_field("frames")
                .and_then(Val::as_u64)
                .expect("frames")
        })
        .sum();
    let counted = check_drop_count(run, &event(ops, "burst done").op, "burst");
    assert_eq!(
        reported, counted,
        "the drop reports add up to the firmware's count"
    );
    assert_eq!(
        received.len() as u64 + counted,
        BURST_EVENTS,
        "every burst event arrived or was reported dropped"
    );
    // Every burst event that arrived carried its message in full or as a marker, in full
    // only for the first and after frames that carried it were dropped.
    assert!(
        in_full + markers >= received.len(),
        "{in_full} constants and {markers} markers for {} events",
        received.len()
    );
    assert!(
        in_full as u64 <= counted + 1 && markers > 0,
        "the message went in full {in_full} times with {counted} frames dropped"
    );
}

fn check_reset(run: &Run) {
    let ops = &run.ops;
    assert_eq!(run.stats.target_resets, 1, "{:?}", run.stats);
    assert!(run.stats.link_resets >= 1, "{:?}", run.stats);
    let reset = position(
        ops,
        |op| is_receiver_event(op) && op.message().is_some_and(|m| m.starts_with("target reset")),
        "reset warning",
    );
    let warning = &ops[reset];
    assert_eq!(warning.op.event_field("exited"), Some(&Val::U64(2)));
    assert_eq!(warning.op.event_field("closed"), Some(&Val::U64(2)));
    // Both spans the first boot had entered are exited and closed before the warning, at a
    // time of the first boot.
    for name in ["before_reset", "inner"] {
        for verb in ["exit", "close"] {
            let at = position(
                ops,
                |op| match (op, verb) {
                    (Op::Exit(span), "exit") | (Op::Close(span), "close") => {
                        span_name(span) == name
                    }
                    _ => false,
                },
                &format!("{verb} of {name}"),
            );
            assert!(at < reset, "{verb} of {name} comes after the reset warning");
            assert_eq!(ops[at].time.and_then(|t| t.boot), Some(1));
        }
    }
    assert_eq!(warning.time.and_then(|t| t.boot), Some(2));
    let after = event(ops, "booted again after the reset");
    assert_eq!(parent_of(after).unwrap(), "after_reset");
}

fn check_panic(run: &Run) {
    let ops = &run.ops;
    let panic = ops
        .iter()
        .find(|e| matches!(&e.op, Op::Event { target, .. } if target == "panic"))
        .unwrap_or_else(|| panic!("no panic event in {ops:#?}"));
    let Op::Event { level, .. } = &panic.op else {
        unreachable!()
    };
    assert_eq!(*level, tracing_core::Level::ERROR);
    assert_eq!(
        panic.op.message(),
        Some("sensor 3 returned garbage: [1, 2, 3]")
    );
    let location = panic.op.event_field("location").and_then(Val::as_text);
    assert!(
        location.is_some_and(|l| l.starts_with("qemu/src/bin/scenarios/panic.rs:")),
        "{location:?}"
    );
    assert_eq!(parent_of(panic).unwrap(), "deeper");
    if run.exit_code.is_some() {
        assert!(
            run.qemu_output.contains("firmware panicked"),
            "{}",
            run.qemu_output
        );
    }
}

fn check_late_attach(run: &Run) {
    let ops = &run.ops;
    // What came before the attach is gone; the re-send brought the live spans back, entered
    // as they are on the target.
    assert!(!ops
        .iter()
        .any(|e| e.op.message() == Some("traced before the host attached")));
    assert!(!ops
        .iter()
        .any(|e| e.op.message() == Some(LATE_ATTACH_WAITING)));
    assert_eq!(span_names(ops)[..3], ["session", "job", "idle_span"]);
    assert_eq!(
        parent_of(event(ops, "going on after the re-send")).unwrap(),
        "job"
    );
    assert_eq!(
        parent_of(event(ops, "in the idle span")).unwrap(),
        "idle_span"
    );
    let sent = sent_messages(&run.capture);
    assert_eq!(sent.first(), Some(&Sent::Hello { boot: 1 }), "{sent:?}");
    let call_sites = sent
        .iter()
        .filter(|s| matches!(s, Sent::CallSite { .. }))
        .count();
    // session, job, idle_span, and the two events before the wait, re-sent; then the ones
    // used after it.
    assert!(call_sites >= 5, "{sent:?}");
    for name in ["session", "job", "idle_span"] {
        assert!(
            sent.contains(&Sent::CallSite { name: name.into() }),
            "{name} not re-sent: {sent:?}"
        );
    }
    let live: Vec<u32> = sent
        .iter()
        .filter_map(|s| match s {
            Sent::LiveSpan { entered } => Some(*entered),
            _ => None,
        })
        .collect();
    assert_eq!(live, [1, 1, 0], "live spans and their entered counts");
}

/// The run's exported timeline: its structure, and the slices, instants and markers of what
/// the receiver relayed.
fn check_run_timeline(run: &Run, what: &str) {
    let shape = crate::timeline::check_against(&run.timeline, &run.ops[..run.timeline_ops])
        .unwrap_or_else(|error| panic!("{what}: timeline: {error}"));
    assert!(shape.total_slices() > 0, "{what}: timeline without slices");
    match run.scenario {
        // The panic and the reset leave spans entered: the timeline ends them, marked.
        Scenario::Panic => assert!(shape.unfinished > 0, "{what}: timeline: {shape:?}"),
        Scenario::Nested => {
            assert_eq!(shape.unfinished, 0, "{what}: timeline: {shape:?}");
            assert!(shape.thread_depth >= 2, "{what}: timeline: {shape:?}");
        }
        // The handlers' slices on their own tracks, named from the exception numbers.
        Scenario::Interrupt => {
            assert_eq!(shape.unfinished, 0, "{what}: timeline: {shape:?}");
            assert!(shape.thread_depth >= 2, "{what}: timeline: {shape:?}");
            let on = |track: &str| shape.slices.get(track).copied().unwrap_or(0);
            assert_eq!(on("PendSV"), 2, "{what}: pendsv, pendsv_inner: {shape:?}");
            assert_eq!(on("SysTick"), 3, "{what}: the systick spans: {shape:?}");
            assert_eq!(
                on(rtt_tunnel_host::timeline::THREAD_MODE_TRACK) + 5,
                shape.total_slices(),
                "{what}: {shape:?}"
            );
        }
        // The target reset and the frames it dropped are markers.
        Scenario::Reset | Scenario::Burst => {
            assert!(shape.markers > 0, "{what}: timeline: {shape:?}")
        }
        _ => {}
    }
}
