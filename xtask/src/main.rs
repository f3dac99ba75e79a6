//! `cargo xtask`: the project's few verbs.
//!
//! - `cargo xtask test`: install what is missing, then fmt, clippy (host and thumb targets),
//!   the thumb builds, rustdoc (warnings as errors) and every host test. What CI runs.
//! - `cargo xtask demo`: the demo firmware in QEMU under `host-receiver`, live in the terminal.
//! - `cargo xtask bench`: the benchmarks against defmt, rprintln and tracing-tunnel; writes
//!   `BENCHMARKS.md`.
//! - `cargo xtask bless`: re-record the QEMU tests' snapshots and fixtures.
//! - `cargo xtask fuzz [--target T] [--secs N] [--seeds]`: the cargo-fuzz targets of
//!   `fuzz/`, each for N seconds (installs nightly and cargo-fuzz when missing).
//! - `cargo xtask viewer`: the demo's timeline (`--timeline`) live and replayed, checked, and
//!   loaded in speedscope in headless Chromium, with a screenshot. Part of `test`.

mod bench;
mod bless;
mod demo;
mod doc;
mod fuzz;
mod install;
mod run;
mod test;
mod viewer;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo xtask <test | demo | bench | bless | fuzz | viewer>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(),
        Some("bless") => bless::run(),
        Some("fuzz") => fuzz::run_verb(&args[1..]),
        Some("viewer") => viewer::run(),
        Some(other) => bail!("unknown verb `{other}`\n{USAGE}"),
        None => bail!("{USAGE}"),
    }
}
