//! `cargo xtask bench`: every benchmark of issue 7 in one run, one table, and `BENCHMARKS.md`.
//!
//! 1. Installs what is missing (rustup components and thumb targets, `qemu-system-arm`).
//! 2. Builds the benchmark firmware of `boards/bench` (release profile of the boards
//!    workspace): the per-operation binaries and the ring filler for `thumbv7m-none-eabi`
//!    (mps2-an385, Cortex-M3), the per-operation binaries and the size builds for
//!    `thumbv7em-none-eabihf` (mps2-an386, Cortex-M4F).
//! 3. Runs `host/benches/firmware.rs` (QEMU: instructions and bytes per operation,
//!    the drain; the ELF sections), which writes JSON.
//! 4. Runs the bench `host/benches/relay.rs` five times. Each run times the pipelines in
//!    paired rounds (`RELAY_PAIRED`: every pipeline once per round, a few milliseconds
//!    apart): a run's rate of a pipeline is the median of its rounds, a run's ratio the
//!    median of its rounds' ratios; each figure is the median of the runs', the ratios listed
//!    run by run. Criterion measures split + decode alone (compared with nothing).
//! 5. Prints the table, with the ratios against each anchor measured in the same run and the
//!    goals of issues 7, 10 and 13 (the relay), and writes it with the conditions to
//!    `BENCHMARKS.md`, and the figures for tools to `target/bench/results.json`.
//!
//! Nothing here asserts a timing: a missed goal is reported, not failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::install;
use crate::run::{output, root, run as sh};

/// The Cortex-M3 and Cortex-M4F boards of the board table.
const M3: &rtt_tunnel_boards::Board = &rtt_tunnel_boards::BOARDS[0];
const M4: &rtt_tunnel_boards::Board = &rtt_tunnel_boards::BOARDS[1];

/// Firmware binaries built for the Cortex-M3 (run under `-icount`) and the Cortex-M4F (run
/// under `-icount` too, and sizes).
const M3_PACKAGES: [&str; 3] = ["bench-tunnel", "bench-defmt", "bench-rtt-target"];
const M4_PACKAGES: [&str; 4] = [
    "bench-tunnel",
    "bench-defmt",
    "bench-rtt-target",
    "bench-none",
];

/// The operations, in table order: key in the firmware bench's JSON, label.
const OPERATIONS: [(&str, &str); 8] = [
    ("event_none", "event, no field"),
    ("event_u32", "event, one `u32`"),
    ("event_three", "event, `u32` + `bool` + `&str`"),
    ("event_message", "event, constant message"),
    ("span_new", "span new"),
    ("span_enter", "span enter"),
    ("span_exit", "span exit"),
    ("span_close", "span close"),
];

/// The size builds of the demo-like application: key in the firmware bench's JSON, label.
const SIZE_BUILDS: [(&str, &str); 4] = [
    ("rtt-tunnel", "rtt-tunnel (tracing + sender)"),
    (
        "tracing-null",
        "tracing into a subscriber that does nothing",
    ),
    ("defmt", "defmt + defmt-rtt"),
    ("none", "no logging"),
];

/// Runs of the relay bench; each relay figure is the median of the runs' own (each the
/// median of the run's paired rounds).
const RELAY_RUNS: usize = 5;

/// The relay benchmarks: id (`pipeline/subscriber`, criterion's for [`DECODE`]), label. `native/*` is the ceiling: the same `tracing`
/// code run on the host straight into the same subscriber, which no relay can beat.
const RELAY: [(&str, &str); 7] = [
    (
        "rtt-tunnel/noop",
        "rtt-tunnel: split + decode + Receiver → registry + no-op layer",
    ),
    (
        "tracing-tunnel/noop",
        "tracing-tunnel: TracingEventReceiver → registry + no-op layer",
    ),
    (
        "native/noop",
        "ceiling: the same `tracing` code natively → registry + no-op layer",
    ),
    (
        "rtt-tunnel/fmt",
        "rtt-tunnel: split + decode + Receiver → registry + fmt layer (sink)",
    ),
    (
        "tracing-tunnel/fmt",
        "tracing-tunnel: TracingEventReceiver → registry + fmt layer (sink)",
    ),
    (
        "native/fmt",
        "ceiling: the same `tracing` code natively → registry + fmt layer (sink)",
    ),
    (DECODE, "rtt-tunnel: split + decode only"),
];

/// The relay benchmark criterion measures for the report: split + decode alone, which is
/// compared with nothing (the others come from the paired rounds).
const DECODE: &str = "rtt-tunnel/decode";

/// The nanoseconds per message of `pipeline` into `sub` in each paired round of one run.
fn paired_times(run: &Value, sub: &str, pipeline: &str) -> Result<Vec<f64>> {
    let times: Vec<f64> = run[sub][pipeline]
        .as_array()
        .with_context(|| format!("no paired rounds of {pipeline}/{sub}"))?
        .iter()
        .map(|t| t.as_f64().context("a paired round that is not a number"))
        .collect::<Result<_>>()?;
    if times.is_empty() {
        bail!("no paired rounds of {pipeline}/{sub}");
    }
    Ok(times)
}

pub fn run() -> Result<()> {
    let started = Instant::now();
    install::rust_tools()?;
    install::qemu()?;

    let root = root();
    let boards_target = root.join("boards/target");
    let bench_dir = root.join("target/bench");
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("cannot create {}", bench_dir.display()))?;

    build_firmware(M3.target, &M3_PACKAGES, &boards_target)?;
    build_firmware(M4.target, &M4_PACKAGES, &boards_target)?;

    let firmware_json = bench_dir.join("firmware.json");
    let boards_arg = boards_target.display().to_string();
    let out_arg = firmware_json.display().to_string();
    sh(
        "cargo",
        &[
            "bench",
            "-p",
            "rtt-tunnel-host",
            "--bench",
            "firmware",
            "--",
            "--boards",
            &boards_arg,
            "--out",
            &out_arg,
        ],
    )?;
    let firmware: Value = read_json(&firmware_json)?;

    // Host figures on a shared machine move by a third and more within a minute: the relay
    // bench runs RELAY_RUNS times, and each pipeline's figure in a run is the median of its
    // paired rounds (criterion's mean for split + decode alone, which is compared with nothing).
    let mut per_message: Vec<Vec<f64>> = vec![Vec::new(); RELAY.len()];
    let mut paired = Vec::new();
    for run in 0..RELAY_RUNS {
        let criterion_home = bench_dir.join(format!("criterion-{run}"));
        let paired_json = bench_dir.join(format!("relay-paired-{run}.json"));
        let status = Command::new("cargo")
            .args(["bench", "-p", "rtt-tunnel-host", "--bench", "relay", "--"])
            .arg(DECODE)
            .current_dir(&root)
            .env("CRITERION_HOME", &criterion_home)
            .env("RELAY_PAIRED", &paired_json)
            .status()
            .context("could not start cargo bench")?;
        if !status.success() {
            bail!("the relay bench failed ({status})");
        }
        let rounds = read_json(&paired_json)?;
        for ((id, _), figures) in RELAY.iter().zip(&mut per_message) {
            let ns = match id.split_once('/') {
                Some((pipeline, sub)) if *id != DECODE => {
                    median(&paired_times(&rounds, sub, pipeline)?)
                }
                _ => {
                    // criterion turns the `/` of an id into `_` in its directory names.
                    let estimates = criterion_home
                        .join("relay")
                        .join(id.replace('/', "_"))
                        .join("new/estimates.json");
                    let mean_ns = read_json(&estimates)?["mean"]["point_estimate"]
                        .as_f64()
                        .with_context(|| format!("no mean in {}", estimates.display()))?;
                    mean_ns / RELAY_MESSAGES
                }
            };
            figures.push(ns);
        }
        paired.push(rounds);
    }
    let relay: Vec<_> = RELAY
        .into_iter()
        .zip(per_message)
        .map(|((id, label), figures)| (id, label, figures))
        .collect();

    let conditions = Conditions::gather(&root, &firmware);
    let report = Report {
        firmware: &firmware,
        relay: &relay,
        paired: &paired,
    };
    let tables = report.tables()?;
    println!("\n{tables}");
    let took = started.elapsed();
    let markdown = format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` ({}); every figure below comes from that run, which \
         took {} s on the machine below, the builds it needed included. Regenerate with \
         `cargo xtask bench`.\n\n\
         {tables}\n{}\n{}",
        conditions.date,
        took.as_secs(),
        conditions.markdown(),
        METHOD,
    );
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, markdown).with_context(|| format!("cannot write {}", path.display()))?;
    let results = bench_dir.join("results.json");
    let json = serde_json::to_string_pretty(&report.results()?)?;
    std::fs::write(&results, json)
        .with_context(|| format!("cannot write {}", results.display()))?;
    eprintln!("xtask bench: wrote {}", results.display());
    eprintln!(
        "xtask bench: wrote {} ({} s in all)",
        path.display(),
        took.as_secs()
    );
    Ok(())
}

/// Builds `packages` of the boards workspace for `target`, from `boards/` (so its
/// `.cargo/config.toml` applies) into `boards/target`.
fn build_firmware(target: &str, packages: &[&str], target_dir: &Path) -> Result<()> {
    let mut args = vec!["build", "--release", "--bins", "--target", target];
    for package in packages {
        args.extend(["-p", package]);
    }
    eprintln!("\n$ (cd boards && cargo {})", args.join(" "));
    let status = Command::new("cargo")
        .args(&args)
        .current_dir(root().join("boards"))
        .env("CARGO_TARGET_DIR", target_dir)
        // Keep the host build's flags out of the firmware build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .context("could not start cargo")?;
    if !status.success() {
        bail!("building the benchmark firmware for {target} failed ({status})");
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn num(value: &Value, path: &[&str]) -> Result<f64> {
    let mut at = value;
    for key in path {
        at = &at[key];
    }
    at.as_f64()
        .with_context(|| format!("no number at {}", path.join(".")))
}

/// The figures of one run.
struct Report<'a> {
    firmware: &'a Value,
    /// (criterion id, label, nanoseconds per message in each run, in the order of the runs:
    /// the median of the run's paired rounds, or criterion's mean for [`DECODE`]).
    relay: &'a [(&'a str, &'a str, Vec<f64>)],
    /// Each run's paired rounds: subscriber → pipeline → nanoseconds per message in each
    /// round (`host/benches/relay.rs`).
    paired: &'a [Value],
}

/// The median of `values` (not empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Messages per criterion batch of the relay bench (1000 cycles of 5 messages).
const RELAY_MESSAGES: f64 = 5000.0;

/// "yes"/"NO" for a goal.
fn verdict(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**NO**"
    }
}

impl Report<'_> {
    fn tables(&self) -> Result<String> {
        let mut out = String::new();
        let mut missed = Vec::new();
        self.target_table(&mut out, &mut missed)?;
        self.m4f_table(&mut out, &mut missed)?;
        self.parts_table(&mut out)?;
        self.size_table(&mut out, &mut missed)?;
        self.relay_table(&mut out, &mut missed)?;
        self.drain_table(&mut out, &mut missed)?;
        if !missed.is_empty() {
            writeln!(out, "## Where we lose, why, and what would fix it\n")?;
            for note in missed {
                writeln!(out, "- {note}")?;
            }
            writeln!(out)?;
        }
        Ok(out)
    }

    fn target_table(&self, out: &mut String, missed: &mut Vec<String>) -> Result<()> {
        let ops = &self.firmware["ops"];
        writeln!(
            out,
            "## Target, per operation\n\n\
             Instructions per call on a Cortex-M3 (QEMU `mps2-an385`, `-icount {}`), bytes per \
             call read from the RTT ring. rprintln's bytes are its text (no timestamp).\n",
            self.firmware["icount"].as_str().unwrap_or("?")
        )?;
        writeln!(
            out,
            "| operation | instr. rtt-tunnel | instr. defmt | instr. rprintln | \
             ours / defmt | ours / rprintln | bytes rtt-tunnel | bytes defmt | bytes rprintln | \
             ours / defmt | of which time delta (ours) | bytes ≤ defmt | \
             instr. ≤ defmt | instr. ≤ ½ rprintln |"
        )?;
        writeln!(
            out,
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|:-:|"
        )?;
        let (mut more_bytes, mut more_insn, mut more_fmt) = (Vec::new(), Vec::new(), Vec::new());
        let mut dt_total = (0.0f64, 0.0f64);
        for (key, label) in OPERATIONS {
            let insn = |logger: &str| num(ops, &[logger, "instructions", key]);
            let bytes = |logger: &str| num(ops, &[logger, "wire_bytes", key, "mean"]);
            let (ours, defmt, fmt) = (insn("rtt-tunnel")?, insn("defmt")?, insn("rprintln")?);
            let (b_ours, b_defmt, b_fmt) =
                (bytes("rtt-tunnel")?, bytes("defmt")?, bytes("rprintln")?);
            let dt = num(ops, &["rtt-tunnel", "wire_bytes", key, "dt_bytes"])?;
            dt_total = (dt_total.0 + dt, dt_total.1 + 1.0);
            writeln!(
                out,
                "| {label} | {ours:.0} | {defmt:.0} | {fmt:.0} | {:.2} | {:.2} | {b_ours:.1} | \
                 {b_defmt:.1} | {b_fmt:.1} | {:.2} | {dt:.1} | {} | {} | {} |",
                ours / defmt,
                ours / fmt,
                b_ours / b_defmt,
                verdict(b_ours <= b_defmt),
                verdict(ours <= defmt),
                verdict(ours <= fmt / 2.0),
            )?;
            if b_ours > b_defmt {
                more_bytes.push(format!("{label} ({b_ours:.1} vs {b_defmt:.1})"));
            }
            if ours > defmt {
                more_insn.push(format!("{label} ({:.2}×)", ours / defmt));
            }
            if ours > fmt / 2.0 {
                more_fmt.push(format!("{label} ({:.2}×)", ours / fmt));
            }
        }
        let dt_mean = dt_total.0 / dt_total.1.max(1.0);
        if !more_bytes.is_empty() {
            missed.push(format!(
                "**Bytes per operation, more than defmt** for {}. An rtt-tunnel frame is the \
                 COBS code byte, the time delta, the message (its tag folds in the call site \
                 of a contextual event or new span, or the span of an enter, exit or close), \
                 the values (a constant message after its first event: one byte) and the \
                 delimiter. The time delta took {dt_mean:.1} bytes on average here: ticks of \
                 the 25 MHz counter since the previous frame, and QEMU runs one instruction \
                 per 25.6 ticks, so back-to-back calls are thousands of ticks apart (with a \
                 cycle counter on hardware, a byte less). A defmt frame is a 2-byte string \
                 index (its high byte squeezed out by rzCOBS), the 4-byte timestamp and 2 \
                 bytes of framing, and defmt interns the whole format string.",
                more_bytes.join(", ")
            ));
        }
        let parts = &self.firmware["parts"];
        let share = |key: &str| -> Result<(f64, f64, f64)> {
            let null = num(parts, &["tracing-null", "instructions", key])?;
            let nolink = num(parts, &["sender-nolink", "instructions", key])?;
            let full = num(ops, &["rtt-tunnel", "instructions", key])?;
            Ok((null, nolink - null, full - nolink))
        };
        if !more_insn.is_empty() {
            let (t, s_, c) = share("event_none")?;
            let (te, se, ce) = share("span_enter")?;
            missed.push(format!(
                "**Instructions per operation above defmt's** for {}. Where they go (next \
                 table): for an event with no field, tracing's macros and dispatch {t:.0}, \
                 the sender {s_:.0}, the ring's offsets {c:.0}; for an enter {te:.0}, \
                 {se:.0} and {ce:.0}. The sender's share is its bookkeeping around the \
                 critical section (call-site and span tables, the checks before a frame may \
                 go: `Hello`, drops, announcement) and the sealing of the frame straight into \
                 the ring (`Output::put`: the time delta's varint, the exception number, the \
                 body COBS-encoded as it is copied). All figures are for \
                 `opt-level = \"s\"`.",
                more_insn.join(", ")
            ));
        }
        if !more_fmt.is_empty() {
            let (t, s_, c) = share("event_none")?;
            let (te, se, ce) = share("span_enter")?;
            missed.push(format!(
                "**Instructions not far below rprintln's (`core::fmt`)** for {}: rprintln \
                 writes a constant string or a couple of small integers with a handful of \
                 `core::fmt` calls straight into the ring (no timestamp, no framing), cheaper \
                 than both binary loggers here; `core::fmt` costs more only as the output \
                 grows (three fields). Where ours go (the table above): for an event with no \
                 field, tracing's macros and dispatch {t:.0}, the sender {s_:.0}, the ring's \
                 offsets {c:.0}; for an enter {te:.0}, {se:.0} and {ce:.0}. The sender's \
                 share is its bookkeeping in two critical sections (call-site and span \
                 tables, the checks before a frame may go: `Hello`, drops, announcement) and \
                 the sealing of the frame straight into the ring (`Output::put`: the time \
                 delta's varint, the exception number, the body COBS-encoded a word at a time \
                 as it is copied). Next: one critical section per event where no value needs \
                 formatting, and `Output::put`'s registers (its COBS writer keeps its \
                 position on the stack).",
                more_fmt.join(", ")
            ));
        }

        let i = |key: &str| num(ops, &["rtt-tunnel", "instructions", key]);
        let b = |key: &str| num(ops, &["rtt-tunnel", "wire_bytes", key, "mean"]);
        let spans_max = i("span_enter")?.max(i("span_exit")?).max(i("span_close")?);
        writeln!(
            out,
            "\nGoals of issue 10 (Cortex-M3): event, no field ≤ 500 instructions ({:.0}: {}); \
             one `u32` ≤ 600 ({:.0}: {}); enter, exit, close ≤ 300 each (at most {:.0}: {}); \
             a constant message at most one byte more than an event with no field ({:.1} vs \
             {:.1}: {}).",
            i("event_none")?,
            verdict(i("event_none")? <= 500.0),
            i("event_u32")?,
            verdict(i("event_u32")? <= 600.0),
            spans_max,
            verdict(spans_max <= 300.0),
            b("event_message")?,
            b("event_none")?,
            verdict(b("event_message")? <= b("event_none")? + 1.0),
        )?;
        let tunnel = &ops["rtt-tunnel"];
        writeln!(
            out,
            "\nCalibration (rtt-tunnel's run): {:.4} counter ticks per instruction (1000 `nop`s; \
             25.6 expected), a measurement's own cost {:.1} instructions (subtracted), {} calls \
             per operation.\n",
            num(tunnel, &["ticks_per_instruction"])?,
            num(tunnel, &["bracket_instructions"])?,
            num(tunnel, &["calls"])?,
        )?;
        Ok(())
    }

    /// The same operations on a Cortex-M4F, against defmt.
    fn m4f_table(&self, out: &mut String, missed: &mut Vec<String>) -> Result<()> {
        let ops = &self.firmware["ops_m4f"];
        writeln!(
            out,
            "### Cortex-M4F\n\n\
             The same firmware built for `thumbv7em-none-eabihf` and run on QEMU's `mps2-an386` \
             (`-icount {}`).\n",
            self.firmware["icount"].as_str().unwrap_or("?")
        )?;
        writeln!(
            out,
            "| operation | instr. rtt-tunnel | instr. defmt | instr. rprintln | ours / defmt | \
             bytes rtt-tunnel | bytes defmt | ours / defmt | instr. ≤ defmt | bytes ≤ defmt |"
        )?;
        writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|")?;
        let mut lost = Vec::new();
        for (key, label) in OPERATIONS {
            let insn = |logger: &str| num(ops, &[logger, "instructions", key]);
            let bytes = |logger: &str| num(ops, &[logger, "wire_bytes", key, "mean"]);
            let (ours, defmt, fmt) = (insn("rtt-tunnel")?, insn("defmt")?, insn("rprintln")?);
            let (b_ours, b_defmt) = (bytes("rtt-tunnel")?, bytes("defmt")?);
            writeln!(
                out,
                "| {label} | {ours:.0} | {defmt:.0} | {fmt:.0} | {:.2} | {b_ours:.1} | \
                 {b_defmt:.1} | {:.2} | {} | {} |",
                ours / defmt,
                b_ours / b_defmt,
                verdict(ours <= defmt),
                verdict(b_ours <= b_defmt),
            )?;
            if ours > defmt || b_ours > b_defmt {
                // Two decimals: a mean of 20 frames, one of which may be a byte shorter.
                let range = |logger: &str, end: &str| num(ops, &[logger, "wire_bytes", key, end]);
                lost.push(format!(
                    "{label} ({ours:.0} vs {defmt:.0} instructions, {b_ours:.2} vs \
                     {b_defmt:.2} bytes: frames of {:.0} to {:.0} bytes vs {:.0} to {:.0})",
                    range("rtt-tunnel", "min")?,
                    range("rtt-tunnel", "max")?,
                    range("defmt", "min")?,
                    range("defmt", "max")?,
                ));
            }
        }
        writeln!(out)?;
        if !lost.is_empty() {
            missed.push(format!(
                "**Cortex-M4F: above defmt** for {}; the causes are those of the Cortex-M3 \
                 (the same code: the M4F's instruction set adds the FPU and DSP instructions, \
                 which none of these paths use). A frame's bytes depend on its timestamp: \
                 defmt's is 6 bytes instead of 7 when rzCOBS squeezes a zero byte of its \
                 timestamp, and ours a byte shorter or longer with the time delta's varint, \
                 so means a few hundredths apart swap places between runs.",
                lost.join(", ")
            ));
        }
        Ok(())
    }

    /// The figures of the run for tools: per operation and core, instructions and bytes of
    /// each logger; per build, flash and RAM, and what each adds to the build without logging.
    fn results(&self) -> Result<Value> {
        let mut per_op = serde_json::Map::new();
        for (key, label) in OPERATIONS {
            let mut cores = serde_json::Map::new();
            for (core, ops) in [
                ("cortex-m3", &self.firmware["ops"]),
                ("cortex-m4f", &self.firmware["ops_m4f"]),
            ] {
                let mut loggers = serde_json::Map::new();
                for logger in ["rtt-tunnel", "defmt", "rprintln"] {
                    loggers.insert(
                        logger.into(),
                        serde_json::json!({
                            "instructions": num(ops, &[logger, "instructions", key])?,
                            "bytes": num(ops, &[logger, "wire_bytes", key, "mean"])?,
                        }),
                    );
                }
                cores.insert(core.into(), Value::Object(loggers));
            }
            cores.insert("label".into(), Value::from(label));
            per_op.insert(key.into(), Value::Object(cores));
        }
        let sizes = &self.firmware["sizes"];
        let base_flash = num(sizes, &["none", "flash"])?;
        let base_ram = num(sizes, &["none", "ram"])?;
        let mut builds = serde_json::Map::new();
        for key in SIZE_BUILDS.map(|(key, _)| key) {
            let flash = num(sizes, &[key, "flash"])?;
            let ram = num(sizes, &[key, "ram"])?;
            builds.insert(
                key.into(),
                serde_json::json!({
                    "flash": flash,
                    "ram": ram,
                    "flash_added": flash - base_flash,
                    "ram_added": ram - base_ram,
                    "flash_by_crate": sizes[key]["by_crate"],
                    "largest_symbols": sizes[key]["largest"],
                }),
            );
        }
        // Where rtt-tunnel's instructions go (Cortex-M3), per operation.
        let mut parts = serde_json::Map::new();
        for (key, _) in OPERATIONS {
            // (Not named `null`: `json!` would read that as JSON's null.)
            let macros = num(
                &self.firmware["parts"],
                &["tracing-null", "instructions", key],
            )?;
            let nolink = num(
                &self.firmware["parts"],
                &["sender-nolink", "instructions", key],
            )?;
            let full = num(&self.firmware["ops"], &["rtt-tunnel", "instructions", key])?;
            parts.insert(
                key.into(),
                serde_json::json!({
                    "tracing": macros,
                    "sender": nolink - macros,
                    "ring_offsets": full - nolink,
                }),
            );
        }
        Ok(serde_json::json!({
            "icount": self.firmware["icount"],
            "operations": per_op,
            "instructions_by_part_cortex_m3": parts,
            "sizes": builds,
        }))
    }

    fn parts_table(&self, out: &mut String) -> Result<()> {
        let ops = &self.firmware["ops"];
        let parts = &self.firmware["parts"];
        writeln!(
            out,
            "### Where rtt-tunnel's instructions go\n\n\
             Two more builds of the same statements: `tracing` with a subscriber that does \
             nothing (`bench-tracing-null`), and the sender with a link that seals every frame \
             into a scratch buffer nothing reads (`bench-tunnel-nolink`). The sender seals a \
             span or event frame straight into the ring's free space (time delta, handler \
             prefix, body COBS-encoded a word at a time as it is copied, delimiter: one pass), \
             so the sealing is in the sender's column and the last column is what the real \
             ring adds: its offsets (read, room check, the new write offset published).\n"
        )?;
        writeln!(
            out,
            "| operation | tracing macros + dispatch | sender | ring offsets | \
             rtt-tunnel | defmt |"
        )?;
        writeln!(out, "|---|--:|--:|--:|--:|--:|")?;
        for (key, label) in OPERATIONS {
            let null = num(parts, &["tracing-null", "instructions", key])?;
            let nolink = num(parts, &["sender-nolink", "instructions", key])?;
            let full = num(ops, &["rtt-tunnel", "instructions", key])?;
            let defmt = num(ops, &["defmt", "instructions", key])?;
            writeln!(
                out,
                "| {label} | {null:.0} | {:.0} | {:.0} | {full:.0} | {defmt:.0} |",
                nolink - null,
                full - nolink
            )?;
        }
        writeln!(out)?;
        Ok(())
    }

    fn size_table(&self, out: &mut String, missed: &mut Vec<String>) -> Result<()> {
        let sizes = &self.firmware["sizes"];
        writeln!(
            out,
            "## Flash and RAM\n\n\
             The demo-like application (`boards/bench/common/src/demo.rs`) built four ways for \
             `thumbv7em-none-eabihf`, bytes of the allocated ELF sections (the stack not \
             included). The second build has the same `tracing` statements as the first, into \
             a subscriber that does nothing (`size-tracing-null`): what `tracing` alone adds, \
             the floor under rtt-tunnel's figure.\n"
        )?;
        writeln!(
            out,
            "| build | text | rodata | data | bss | flash | RAM | flash added | RAM added |"
        )?;
        writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")?;
        let base_flash = num(sizes, &["none", "flash"])?;
        let base_ram = num(sizes, &["none", "ram"])?;
        for (key, label) in SIZE_BUILDS {
            let n = |field: &str| num(sizes, &[key, field]);
            writeln!(
                out,
                "| {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:+.0} | {:+.0} |",
                n("text")?,
                n("rodata")?,
                n("data")?,
                n("bss")?,
                n("flash")?,
                n("ram")?,
                n("flash")? - base_flash,
                n("ram")? - base_ram,
            )?;
        }
        let ours = num(sizes, &["rtt-tunnel", "flash"])? - base_flash;
        let defmt = num(sizes, &["defmt", "flash"])? - base_flash;
        writeln!(
            out,
            "\nFlash added by rtt-tunnel / flash added by defmt-rtt: **{:.2}** \
             (goal ≤ 2: {}; issue 10's bound, ≤ 9800 bytes added: {}).\n",
            ours / defmt,
            verdict(ours <= 2.0 * defmt),
            verdict(ours <= 9800.0)
        )?;

        // Flash by crate, from symbol sizes.
        let crates = |key: &str| -> BTreeMap<String, f64> {
            sizes[key]["by_crate"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (c_ours, c_null, c_defmt, c_none) = (
            crates("rtt-tunnel"),
            crates("tracing-null"),
            crates("defmt"),
            crates("none"),
        );
        let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
        let mut names: Vec<&String> = c_ours
            .keys()
            .chain(c_null.keys())
            .chain(c_defmt.keys())
            .collect();
        names.sort();
        names.dedup();
        names.sort_by(|a, b| get(&c_ours, b).total_cmp(&get(&c_ours, a)));
        writeln!(
            out,
            "Flash (text + rodata) by crate, from the ELF's symbol sizes (approximate: LTO \
             inlines across crates; `constants` are anonymous read-only data such as strings \
             and tables, `unnamed` what no symbol covers):\n"
        )?;
        writeln!(
            out,
            "| crate | rtt-tunnel | tracing, null subscriber | defmt | no logging |"
        )?;
        writeln!(out, "|---|--:|--:|--:|--:|")?;
        for name in &names {
            writeln!(
                out,
                "| {name} | {:.0} | {:.0} | {:.0} | {:.0} |",
                get(&c_ours, name),
                get(&c_null, name),
                get(&c_defmt, name),
                get(&c_none, name)
            )?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "The largest symbols in rtt-tunnel's build (`size-tunnel`), bytes:\n"
        )?;
        writeln!(out, "| symbol | bytes |")?;
        writeln!(out, "|---|--:|")?;
        let largest: &[serde_json::Value] = sizes["rtt-tunnel"]["largest"]
            .as_array()
            .map_or(&[], Vec::as_slice);
        for entry in largest {
            let name = entry[0].as_str().unwrap_or("?");
            let bytes = entry[1].as_f64().unwrap_or(0.0);
            writeln!(out, "| `{name}` | {bytes:.0} |")?;
        }
        writeln!(out)?;
        if ours > 2.0 * defmt {
            let tracing = num(sizes, &["tracing-null", "flash"])? - base_flash;
            let of = |k: &str| get(&c_ours, k) - get(&c_null, k);
            let defmt_rtt = get(&c_defmt, "defmt_rtt");
            let write_cold = largest
                .iter()
                .find(|e| {
                    // As rustc-demangle shows it: legacy mangling, or v0 (an inherent impl
                    // in angle brackets).
                    matches!(
                        e[0].as_str(),
                        Some(
                            "rtt_tunnel_protocol::message::Message::write_cold"
                                | "<rtt_tunnel_protocol::message::Message>::write_cold"
                        )
                    )
                })
                .and_then(|e| e[1].as_f64())
                .unwrap_or(0.0);
            missed.push(format!(
                "**Flash: rtt-tunnel adds {:.1}× what defmt-rtt adds** ({ours:.0} vs \
                 {defmt:.0} bytes; issue 10's bound is 3.5×, 9800 bytes). Of the {ours:.0} \
                 bytes, {tracing:.0} are `tracing` itself: the same application into a \
                 subscriber that does nothing adds them (the macros' code in the application, \
                 the call sites' metadata, tracing-core's dispatcher and callsite registry, the \
                 `core::fmt` and panic code tracing-core links), which leaves {:.0} bytes for \
                 any subscriber under the bound. The sender's build adds {:.0} over that floor: \
                 the sender ({:.0}), the protocol's hand encoder ({:.0}; no serde or postcard \
                 code is linked), more of `core` ({:.0}: `core::fmt` for the messages formatted \
                 on the target), `compiler_builtins` ({:.0}: the float conversions of \
                 the values sent), the application's and tracing-core's code \
                 that a real subscriber keeps alive ({:.0} and {:.0}: field visits, \
                 `Value::record`), constants ({:.0}) and what no symbol covers ({:.0}). The \
                 largest items are listed above: the per-frame writer (`Output::put`: the \
                 seal straight into the ring's free space) and its fallback for a frame that \
                 would wrap around the ring's end (`seal::write_copied`: the same encoder into \
                 a buffer on the stack, then a copy in two parts; the protocol's own seal is \
                 compiled out, every frame of a 256-byte frame buffer being one COBS block; \
                 rtt-target's `write` and `read` are not linked, nor is `memcpy`), the \
                 out-of-line encoder of the rare messages (`Message::write_cold`, which writes \
                 a call site's field names straight from tracing's `FieldSet`: no name buffer \
                 in RAM), each `Subscriber` method with its own inlined path to the ring (its \
                 table look-ups and its message's encoding), `poll` (the requests' reader: a \
                 COBS reader of a few bytes, a byte at a time, and the level change), \
                 `<core::fmt::Formatter>::pad` (reached through `<&str as Display>::fmt` from \
                 `core::panicking::assert_failed_inner`, tracing-core's `assert_eq!` in \
                 `DefaultCallsite::register`; the null build's copy of it does without), and \
                 the text and constant paths of `ValueVisitor::text`. \
                 `Formatter::pad_integral` and `<usize as Display>::fmt` come with the panic \
                 report: core's bounds-check panic (`panic_bounds_check`, reached from the \
                 application's `print_u32`) formats its index and length, and the sender's \
                 panic handler (`report_panic`) formats the panic's message; they go with that \
                 feature. A generic-free core \
                 behind the `Subscriber` methods would not shrink this build: it has one \
                 `Tunnel` type, so each generic function is in it once; and one out-of-line \
                 path for the enter, exit and close frames saved 140 bytes for 20 more \
                 instructions on each (not kept), and one copy of the `Resync` writer's list \
                 for its two iterators 12 bytes (not kept either). Next: `new_span` and its \
                 second critical section (`Tunnel::with_state`), whose table look-ups and \
                 encoding are inlined for their instructions, and the rare messages' encoder \
                 (`Message::write_cold`) and `ValueVisitor::text` trimmed further. None of \
                 this reaches the bound, and no subscriber with this feature set can: with \
                 {tracing:.0} bytes of `tracing` alone, 3.5× defmt-rtt leaves {:.0} bytes for \
                 the subscriber, its transport and its encoder; defmt-rtt's RTT transport alone \
                 takes {defmt_rtt:.0} of them (crate `defmt_rtt` in the defmt build), which \
                 leaves {:.0} for the call-site and span tables, the announcements, a binary \
                 encoder of every value kind with truncation marks, the drop counting, `Stats`, \
                 the down channel's requests, `Resync` and `Status` after a loss and the panic \
                 report; the announcements' and rare messages' encoder alone is \
                 {write_cold:.0} bytes here. And 2× defmt-rtt ({:.0} bytes) is below what \
                 `tracing` alone adds: neither is reachable while tracing-core and `core::fmt` \
                 are linked.",
                ours / defmt,
                9800.0 - tracing,
                ours - tracing,
                of("rtt_tunnel_sender"),
                of("rtt_tunnel_protocol"),
                of("core"),
                of("compiler_builtins"),
                of("bench_common"),
                of("tracing_core") + of("tracing"),
                of("constants"),
                of("unnamed"),
                9800.0 - tracing,
                9800.0 - tracing - defmt_rtt,
                2.0 * defmt,
            ));
        }
        Ok(())
    }

    /// The nanoseconds per message of relay benchmark `id`, run by run.
    fn relay_times(&self, id: &str) -> Result<&[f64]> {
        self.relay
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, _, times)| times.as_slice())
            .with_context(|| format!("no relay figure {id}"))
    }

    /// Messages per second of relay benchmark `id`: the median of its runs.
    fn relay_rate(&self, id: &str) -> Result<f64> {
        Ok(1e9 / median(self.relay_times(id)?))
    }

    /// The rate of `id` over the rate of `anchor` in each run, in the order of the runs: the
    /// median of the ratios of the run's paired rounds (both ids into the same subscriber).
    fn relay_ratios(&self, id: &str, anchor: &str) -> Result<Vec<f64>> {
        let split = |id: &str| {
            id.split_once('/')
                .map(|(pipeline, sub)| (sub.to_owned(), pipeline.to_owned()))
                .with_context(|| format!("no subscriber in relay id {id}"))
        };
        let ((sub, ours), (anchor_sub, theirs)) = (split(id)?, split(anchor)?);
        if sub != anchor_sub {
            bail!("{id} and {anchor} relay into different subscribers");
        }
        self.paired
            .iter()
            .map(|run| {
                let (o, t) = (
                    paired_times(run, &sub, &ours)?,
                    paired_times(run, &sub, &theirs)?,
                );
                let rounds: Vec<f64> = o.iter().zip(&t).map(|(o, t)| t / o).collect();
                Ok(median(&rounds))
            })
            .collect()
    }

    fn relay_table(&self, out: &mut String, missed: &mut Vec<String>) -> Result<()> {
        let first = self.paired.first().context("no paired rounds")?;
        let rounds = first["fmt"]["rtt-tunnel"].as_array().map_or(0, Vec::len);
        let round_messages = num(first, &["messages_per_round"])?;
        // How far one pipeline's rate moved from run to run, the most of any.
        let drift = self
            .relay
            .iter()
            .map(|(_, _, times)| {
                let (min, max) = times
                    .iter()
                    .fold((f64::MAX, 0.0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
                max / min
            })
            .fold(1.0, f64::max);
        writeln!(
            out,
            "## Host relay\n\n\
             Messages per second (the median of {RELAY_RUNS} runs, each run's figure the \
             median of its paired rounds, below; criterion's mean for split + decode only), a \
             span with an event inside, five messages per cycle on both sides. The ceiling rows run \
             the same `tracing` code on the host, its macros straight into the same \
             subscriber: what the registry and the layer cost alone, which no relay can beat. \
             A ratio compares two pipelines in paired rounds: after criterion, each run times \
             every pipeline once per round ({rounds} rounds of {round_messages:.0} messages each, in \
             an order that turns from round to round), and the run's ratio is the median of \
             its rounds' ratios; the column gives the median of the runs' ratios, the last \
             column each run's. On a shared machine the host figures move by a third and \
             more within a minute (the rates here from one run to the next by up to {drift:.1}×, \
             the ratios within a run far less), so figures taken seconds apart, as \
             criterion's two seconds of one pipeline after two of the other, are not \
             compared; a build whose code moved (no change to the code measured) moved both \
             pipelines into the fmt layer by 3 to 4%.\n"
        )?;
        writeln!(
            out,
            "| pipeline | messages/s | / tracing-tunnel | / tracing-tunnel, run by run |"
        )?;
        writeln!(out, "|---|--:|--:|---|")?;
        for (id, label, _) in self.relay {
            let sub = id.split_once('/').map(|(_, sub)| sub);
            let (ratio, runs) = match (id.starts_with("tracing-tunnel/"), sub) {
                (false, Some(sub @ ("noop" | "fmt"))) => {
                    let ratios = self.relay_ratios(id, &format!("tracing-tunnel/{sub}"))?;
                    let runs: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
                    (format!("{:.2}", median(&ratios)), runs.join(", "))
                }
                _ => (String::new(), String::new()),
            };
            writeln!(
                out,
                "| {label} | {:.0} | {ratio} | {runs} |",
                self.relay_rate(id)?
            )?;
        }
        let noop = self.relay_rate("rtt-tunnel/noop")?;
        let ratio = |id: &str, anchor: &str| {
            Ok::<_, anyhow::Error>(median(&self.relay_ratios(id, anchor)?))
        };
        let (noop_ratio, fmt_ratio) = (
            ratio("rtt-tunnel/noop", "tracing-tunnel/noop")?,
            ratio("rtt-tunnel/fmt", "tracing-tunnel/fmt")?,
        );
        let (ceiling_noop, ceiling_fmt) = (
            ratio("native/noop", "tracing-tunnel/noop")?,
            ratio("native/fmt", "tracing-tunnel/fmt")?,
        );
        if noop < 1e6 || noop_ratio < 2.0 || fmt_ratio < 1.2 {
            // What the ceiling says about each goal, measured in the same runs.
            let ceiling = |ceiling: f64, ours: f64, goal: f64, layer: &str| {
                if ceiling < goal {
                    format!(
                        "into the {layer} layer the ceiling itself is {ceiling:.2}× \
                         tracing-tunnel, so {goal}× is out of reach for any relay"
                    )
                } else {
                    format!(
                        "into the {layer} layer the ceiling is {ceiling:.2}× tracing-tunnel, \
                         so {goal}× is not ruled out by the registry: we run at {:.0}% of the \
                         ceiling",
                        100.0 * ours / ceiling
                    )
                }
            };
            missed.push(format!(
                "**Host relay: {noop_ratio:.2}× tracing-tunnel's rate into the no-op layer, \
                 {fmt_ratio:.2}× into the fmt layer (goals: 2× and 1.2×; the medians of the \
                 runs' ratios).** The ceiling (the same `tracing` code run natively into the \
                 same subscriber, in the same runs) shows what is left to win: {}; {}. \
                 tracing-tunnel is handed Rust values; rtt-tunnel splits and decodes bytes \
                 first ({:.0} messages/s for that alone). The relay asks the fmt layer for \
                 nothing the native code does not: the three pipelines print the same lines, \
                 and the subscriber runs the same instructions per message behind the relay \
                 as behind the native code (callgrind on this bench's workload). The gap to \
                 the ceiling is the relay's own work, spread thin over the path of a frame \
                 (finding the delimiter, COBS, the frame's start, the receiver's tables, the \
                 target time, the values into the `ValueSet`, the `enabled` call it makes for \
                 every span and event because leaked call sites cache no interest): about \
                 330 instructions per message (callgrind), which beside the fmt layer take \
                 about twice as long as beside the no-op layer, the formatter run between two \
                 frames evicting the relay's code (callgrind's cache model: about 61 \
                 instruction-cache misses per message behind the relay, 25 behind the native \
                 code). Into the fmt layer the goal lies within what a build's code layout \
                 alone moves a figure (3 to 4%, above).",
                ceiling(ceiling_noop, noop_ratio, 2.0, "no-op"),
                ceiling(ceiling_fmt, fmt_ratio, 1.2, "fmt"),
                self.relay_rate("rtt-tunnel/decode")?,
            ));
        }
        writeln!(
            out,
            "\nGoals: ≥ 1 million messages/s into registry + no-op layer: {}; ≥ 2× \
             tracing-tunnel (no-op layer): {}; ≥ 1.2× (fmt layer): {}. Ceiling: {:.2}× and \
             {:.2}× tracing-tunnel.\n",
            verdict(noop >= 1e6),
            verdict(noop_ratio >= 2.0),
            verdict(fmt_ratio >= 1.2),
            ceiling_noop,
            ceiling_fmt,
        )?;
        Ok(())
    }

    fn drain_table(&self, out: &mut String, missed: &mut Vec<String>) -> Result<()> {
        let d = &self.firmware["drain"];
        writeln!(
            out,
            "## Drain through QEMU's gdbstub\n\n\
             `drain-fill` (mps2-an385, no `-icount`) refills a {:.0}-byte ring as fast as the \
             host empties it. In {:.0} rounds, the RTT reader drains a quarter of {:.0} bytes \
             with the `Pacer`, then the same connection reads as many bytes raw, in reads of \
             that round's mean size per poll: all in one halt (*raw*), then each in a halt of \
             its own (*raw, halt per read*).\n",
            num(d, &["ring"])?,
            num(d, &["rounds"])?,
            num(d, &["bytes"])?,
        )?;
        writeln!(
            out,
            "| drained | raw | drain / raw | raw, halt per read | bytes per poll | polls | \
             GDB packets per poll | goal ≥ 80% |"
        )?;
        writeln!(out, "|--:|--:|--:|--:|--:|--:|--:|:-:|")?;
        let ratio = num(d, &["ratio"])?;
        let packets_per_poll = num(d, &["packets_per_poll"])?;
        let halting = num(d, &["raw_halting_bytes_per_second"])?;
        let drained = num(d, &["bytes_per_second"])?;
        writeln!(
            out,
            "| {:.0} KiB/s | {:.0} KiB/s | {:.0}% | {:.0} KiB/s | {:.0} | {:.0} | {:.1} | {} |\n",
            drained / 1024.0,
            num(d, &["raw_bytes_per_second"])? / 1024.0,
            ratio * 100.0,
            halting / 1024.0,
            num(d, &["bytes_per_poll"])?,
            num(d, &["polls"])?,
            packets_per_poll,
            verdict(ratio >= 0.8),
        )?;
        if ratio < 0.8 {
            missed.push(format!(
                "**Drain at {:.0}% of the raw read rate.** QEMU's gdbstub reads memory only \
                 while the core is halted, so every poll is a halt (interrupt and stop \
                 reply), the control block's header and descriptor, the ring (2 KiB per `m` \
                 packet), the read-offset write and a resume: {packets_per_poll:.1} packets \
                 for {:.0} bytes, of the {:.0} the ring holds (polls find it all but full: \
                 the drain is bound by the link, not by the firmware), where the raw reads \
                 need about two. \
                 The same reads with a halt around each run at {:.0} KiB/s ({:.0}% of the \
                 drain's rate), so most of the gap to the raw rate is the halt and resume of \
                 every poll. Fix: a larger ring (the fixed cost of a poll spread over more \
                 2 KiB packets), fewer packets per poll (no header re-read while halted), or \
                 a link that reads a running core (probe-rs on hardware).",
                ratio * 100.0,
                num(d, &["bytes_per_poll"])?,
                num(d, &["ring"])?,
                halting / 1024.0,
                halting / drained * 100.0,
            ));
        }
        Ok(())
    }
}

/// Where and how the run was made.
struct Conditions {
    date: String,
    qemu: String,
    rustc: String,
    cpu: String,
    cores: String,
    firmware_profile: String,
    host_profile: String,
    versions: String,
    icount: String,
}

impl Conditions {
    fn gather(root: &Path, firmware: &Value) -> Self {
        let first_line = |s: Option<String>| {
            s.and_then(|s| s.lines().next().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into())
        };
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count()
            .to_string();
        Conditions {
            date: first_line(output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
            qemu: first_line(output("qemu-system-arm", &["--version"])),
            rustc: first_line(output("rustc", &["--version"])),
            cpu,
            cores,
            firmware_profile: release_profile(&root.join("boards/Cargo.toml")),
            host_profile: release_profile(&root.join("Cargo.toml")),
            versions: [
                ("Cargo.lock", "tracing-tunnel"),
                ("Cargo.lock", "tracing-subscriber"),
                ("Cargo.lock", "criterion"),
                ("boards/Cargo.lock", "defmt"),
                ("boards/Cargo.lock", "defmt-rtt"),
                ("boards/Cargo.lock", "rtt-target"),
                ("boards/Cargo.lock", "tracing-core"),
            ]
            .iter()
            .map(|(lock, name)| format!("{name} {}", locked_version(&root.join(lock), name)))
            .collect::<Vec<_>>()
            .join(", "),
            icount: firmware["icount"].as_str().unwrap_or("?").to_owned(),
        }
    }

    fn markdown(&self) -> String {
        format!(
            "## Conditions\n\n\
             - Date: {}\n\
             - Host CPU: {} ({} logical CPUs, other work may have been running)\n\
             - QEMU: {}, `-icount {}` for the per-operation runs, none for the drain\n\
             - Rust: {}\n\
             - Firmware: the boards workspace's release profile, the same for every build: {}\n\
             - Host benches: cargo's `bench` profile (the host workspace's release settings: \
             {}); the relay figures come from {} runs of the relay bench, each of paired \
             rounds of the six pipelines; split + decode alone from criterion (20 samples, 2 s \
             of measurement)\n\
             - Versions: {}\n",
            self.date,
            self.cpu,
            self.cores,
            self.qemu,
            self.icount,
            self.rustc,
            self.firmware_profile,
            self.host_profile,
            RELAY_RUNS,
            self.versions,
        )
    }
}

/// The `[profile.release]` settings of a Cargo.toml, as one line.
fn release_profile(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let settings: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if settings.is_empty() {
        "cargo's defaults".into()
    } else {
        format!("`{}`", settings.join("`, `"))
    }
}

/// The version of package `name` in a Cargo.lock (the newest, when it holds several).
fn locked_version(lock: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let entry = format!("name = \"{name}\"");
    text.split("[[package]]")
        .filter(|p| p.lines().any(|l| l == entry))
        .last()
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| "?".into())
}

/// How the figures are made, for the reader of BENCHMARKS.md.
const METHOD: &str = "\
## How it is measured

- **Instructions.** Each logger is its own firmware (`boards/bench`), run in QEMU's `mps2-an385` \
(Cortex-M3, `thumbv7m-none-eabi`) and `mps2-an386` (Cortex-M4F, `thumbv7em-none-eabihf`) \
with `-icount shift=10,align=off`: one guest instruction is 2^10 ns of virtual time, and the FPGA \
I/O COUNTER (25 MHz) advances 25.6 ticks per instruction, which the firmware checks with 1000 \
`nop`s. Every call is bracketed by two counter reads; the sum over the calls, minus the cost of an \
empty bracket, divided by the ticks per instruction, gives instructions per call (to about ±2: \
register spills around a call differ from the empty bracket). Each call site is called once \
before timing. Before every timed call the firmware drops what the logger wrote once its ring is \
half full (outside the timing), so no timed call finds the ring full; single-frame calls whose \
write offset did not move would be reported as lost, and rtt-tunnel's own drop counter must stay \
0. Same arguments for all: `reading` 1000..1099, `ok` alternating, `note = \"hello\"`.
- **Statements.** rtt-tunnel: `info!({})`, `info!(reading = v)`, `info!(reading = v, ok = b, \
note = s)`, `info!(\"ready\")`, `info_span!(\"round\")` entered, exited, dropped. defmt (timestamps \
on, `{=u32}` from the same counter): `info!(\"ready\")`, `info!(\"reading={=u32}\", v)`, \
`info!(\"reading={=u32} ok={=bool} note={=str}\", ..)`, and one line per span step (defmt has no \
spans). rprintln: the same format strings with `{}`.
- **Bytes.** After the timed phase the host attaches to the ring through QEMU's gdbstub and the \
RTT reader; the firmware makes 1 + 20 calls per operation back to back, waiting for the host to \
empty the ring before each operation. The host splits what it read into frames (rtt-tunnel: \
each one decoded and its kind checked), counts them against what the firmware wrote, drops the \
first call of each operation (its time delta spans the wait) and averages the rest. rtt-tunnel \
and defmt frames include their delimiter; rtt-tunnel's time delta is ticks of the 25 MHz counter \
since the previous frame.
- **Flash and RAM**: flash = text + rodata (vector table included) + data; RAM = data + bss \
(`.uninit` included). rtt-tunnel's ring is 1 KiB (defmt-rtt's default) plus a 16-byte down \
channel; its sender has the default capacities (32 spans, 64 call sites).
- **Relay**: `host/benches/relay.rs`. rtt-tunnel's bytes come from the real sender on \
an in-memory ring; tracing-tunnel's events from its own `TracingEventSender` running the same \
`tracing` code. tracing-tunnel's receiver takes owned events, so each batch gets a fresh copy \
made outside the timing: it is measured without decoding, rtt-tunnel with splitting and \
decoding (the host's `Pipeline`, which decodes in place, so each of its batches gets a fresh \
copy of the bytes, made outside the timing too). The ceiling runs the same `tracing` code on \
the host into the same subscriber, without a sender or a relay: the registry's and the layer's \
own cost for the same spans and events. Rates and ratios come from the paired rounds the \
bench binary runs after criterion, where every pipeline relays the same messages once per \
round, a few milliseconds from the others (each one's input is copied before its timing \
starts); criterion measures split + decode alone.
- **Drain**: `host/benches/firmware.rs`. The reader polls with the `Pacer` as the CLI \
does (one halt per poll). Four rounds, each a quarter of the bytes drained, then the same byte \
count read raw in reads of that round's mean size per poll: once all in one halt, once with a \
halt around each read. Alternating keeps both under the same load on the host. The drained \
bytes are checked against the filler's pattern.
";
