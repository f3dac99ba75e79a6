//! The differential test: the scenario functions of the QEMU firmware (`nested`, `instrument`,
//! `values`, `tricky`, the very files of `boards/qemu/src/bin/scenarios/`) run natively on the
//! host under the tests' capture layer, and in QEMU through the tunnel on the three boards;
//! the normalised trees (span ids numbered in creation order, boots and times left out, the
//! firmware's module path) must be equal.
//!
//! The differences the test allows, each named where it is applied:
//!
//! - [`TEXT_LIMIT`]: the sender cuts `Debug`, `Display` and string values at `FRAME / 2`
//!   bytes (128 for the boards' `Tunnel`) and the host marks them with `…`; the native text is
//!   cut the same way before comparing, and the host's one `WARN` that text was cut (with the
//!   count, from the sender's `Status`) must give the number of texts cut natively.
//! - Capacities: none of these scenarios goes past the boards' tables (the `capacity`
//!   scenario does, in `qemu_owed.rs`).
//!
//! Not compared here: `interrupt` (its spans come from the core's exception handlers, which
//! do not exist natively) and `burst` (it loses frames on purpose: `qemu_owed.rs` checks the
//! losses are made good, `qemu_scenarios.rs` that every event arrived or was counted).

use rtt_tunnel_host::receiver::TRUNCATED_MARKER;
use rtt_tunnel_tests::boards::BOARDS;
use rtt_tunnel_tests::layer::{Entry, Log, Op, Val};
use rtt_tunnel_tests::scenario::{run_in_qemu, Scenario};

/// The scenario files of the firmware, compiled for the host. They call `crate::sync`.
#[path = "../../boards/qemu/src/bin/scenarios/instrument.rs"]
mod instrument;
#[path = "../../boards/qemu/src/bin/scenarios/nested.rs"]
mod nested;
#[path = "../../boards/qemu/src/bin/scenarios/tricky.rs"]
mod tricky;
#[path = "../../boards/qemu/src/bin/scenarios/values.rs"]
mod values;

/// The firmware waits here for the host to drain the ring; natively there is nothing to wait
/// for.
fn sync() {}

/// The boards' text limit: `FRAME / 2` of the default `Tunnel` (`FRAME` = 256).
const TEXT_LIMIT: usize = 128;

/// Runs `f` natively under the capture layer.
fn native(f: fn()) -> Vec<Entry> {
    let log = Log::default();
    tracing_core::dispatcher::with_default(&log.dispatch(), f);
    log.entries()
}

/// A text value as the target sends it: cut at [`TEXT_LIMIT`] (at a character boundary) and
/// marked.
fn cut(text: &str) -> Option<String> {
    if text.len() <= TEXT_LIMIT {
        return None;
    }
    let mut end = TEXT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}{TRUNCATED_MARKER}", &text[..end]))
}

/// The native run with the documented limits applied: long text cut as the target cuts it.
/// Returns how many texts were cut too.
fn with_limits(mut entries: Vec<Entry>) -> (Vec<Entry>, u64) {
    let mut cuts = 0;
    for entry in &mut entries {
        let fields = match &mut entry.op {
            Op::Event { fields, .. } | Op::NewSpan { fields, .. } | Op::Record { fields, .. } => {
                fields
            }
            _ => continue,
        };
        for (_, value) in fields.iter_mut() {
            match value {
                Val::Debug(text) => {
                    if let Some(short) = cut(text) {
                        *text = short;
                        cuts += 1;
                    }
                }
                // A cut `&str` comes as cut text.
                Val::Str(text) => {
                    if let Some(short) = cut(text) {
                        *value = Val::Debug(short);
                        cuts += 1;
                    }
                }
                _ => {}
            }
        }
    }
    (entries, cuts)
}

/// The host's warning that the target cut text (see [`TEXT_LIMIT`]).
const CUT_WARNING: &str =
    "WARN rtt_tunnel in root: raise FRAME in `Tunnel<…>`: {cuts} text values were cut at \
     FRAME / 2 bytes {count={cuts}_u64}";

/// The text of a run without what differs by design: the boot (`b1`, `b?` natively) at the
/// start of each line, and the module path of the scenario files (`scenarios::` in the
/// firmware, this test's crate natively).
fn normalised(scenario: Scenario, entries: &[Entry]) -> String {
    scenario
        .render(entries)
        .lines()
        .map(|line| line.split_once(' ').map_or(line, |(_, rest)| rest))
        .map(|line| line.replace("differential::", "scenarios::"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn differential(scenario: Scenario, f: fn()) {
    let (native, cuts) = with_limits(native(f));
    let mut expected = normalised(scenario, &native);
    if cuts > 0 {
        expected.push_str("\nevent   ");
        expected.push_str(&CUT_WARNING.replace("{cuts}", &cuts.to_string()));
    }
    assert!(
        expected.lines().count() > 10,
        "the native run of {} traced nothing:\n{expected}",
        scenario.name()
    );
    for board in &BOARDS {
        let run = run_in_qemu(scenario, board);
        assert_eq!(
            run.stats.dropped_frames,
            0,
            "{} on {}",
            scenario.name(),
            board.machine
        );
        let found = normalised(scenario, &run.ops);
        assert!(
            found == expected,
            "{} on {}: the tree differs from the native one\n--- native\n{expected}\n--- \
             through the tunnel\n{found}",
            scenario.name(),
            board.machine
        );
    }
}

#[test]
fn nested_is_the_same_natively_and_through_the_tunnel() {
    differential(Scenario::Nested, nested::run);
}

#[test]
fn instrument_is_the_same_natively_and_through_the_tunnel() {
    differential(Scenario::Instrument, instrument::run);
}

#[test]
fn values_is_the_same_natively_and_through_the_tunnel() {
    differential(Scenario::Values, values::run);
}

#[test]
fn tricky_is_the_same_natively_and_through_the_tunnel() {
    differential(Scenario::Tricky, tricky::run);
}
