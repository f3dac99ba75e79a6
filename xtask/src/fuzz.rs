//! `cargo xtask fuzz [--target T] [--secs N] [--seeds]`: coverage-guided fuzzing of the host
//! with cargo-fuzz (libFuzzer), one target after the other.
//!
//! Installs what is missing: a nightly toolchain (rustup, minimal profile) and cargo-fuzz
//! (`cargo install cargo-fuzz --locked`). Each target runs `N` seconds (default 60) from its
//! working corpus (`fuzz/corpus/<target>/`, not in git) and the seeds kept in the repository
//! (`fuzz/seeds/<target>/`); new inputs go to the working corpus. `--seeds` first writes the
//! seeds again from the QEMU fixtures. A crash stops the run: its input is in
//! `fuzz/artifacts/<target>/`, to become a regression test with its bytes as a fixture.

use anyhow::{bail, Context, Result};

use crate::run::{output, root, run};

/// The fuzz targets, in `fuzz/fuzz_targets/`.
pub const TARGETS: [&str; 4] = ["frames", "receiver", "capture", "rtt_block"];

/// Per run: libFuzzer's time limit for one input (a slow input is a finding too) and its
/// memory limit.
const PER_INPUT_SECS: &str = "-timeout=10";
const RSS_LIMIT: &str = "-rss_limit_mb=2048";

pub fn run_verb(args: &[String]) -> Result<()> {
    let mut targets = Vec::new();
    let mut secs = 60u64;
    let mut seeds = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target" => {
                let target = args.next().context("--target needs a name")?;
                if !TARGETS.contains(&target.as_str()) {
                    bail!("unknown fuzz target `{target}`: one of {}", TARGETS.join(", "));
                }
                targets.push(target.clone());
            }
            "--secs" => {
                secs = args
                    .next()
                    .context("--secs needs a number")?
                    .parse()
                    .context("--secs needs a whole number of seconds")?;
            }
            "--seeds" => seeds = true,
            other => bail!(
                "unknown option `{other}`\nusage: cargo xtask fuzz [--target {}] [--secs N] [--seeds]",
                TARGETS.join("|")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    tools()?;
    let fuzz = root().join("fuzz");
    if seeds {
        in_fuzz(&["run", "--example", "seeds"])?;
    }
    for target in &targets {
        std::fs::create_dir_all(fuzz.join("corpus").join(target))?;
        let corpus = format!("corpus/{target}");
        let seeds = format!("seeds/{target}");
        let time = format!("-max_total_time={secs}");
        in_fuzz(&[
            "+nightly",
            "fuzz",
            "run",
            target,
            &corpus,
            &seeds,
            "--",
            &time,
            PER_INPUT_SECS,
            RSS_LIMIT,
            "-print_final_stats=1",
        ])
        .with_context(|| {
            format!(
                "fuzz target `{target}` failed: the input is in fuzz/artifacts/{target}/; \
                 `cargo +nightly fuzz run {target} <file>` (in fuzz/) replays it"
            )
        })?;
    }
    eprintln!(
        "\nxtask fuzz: {} ran {secs} s each without a crash",
        targets.join(", ")
    );
    Ok(())
}

/// A nightly toolchain and cargo-fuzz, installed when missing.
fn tools() -> Result<()> {
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        run(
            "rustup",
            &["toolchain", "install", "nightly", "--profile", "minimal"],
        )?;
    }
    if output("cargo", &["fuzz", "--version"]).is_none() {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    Ok(())
}

/// Runs `cargo args…` in `fuzz/` (its own workspace), echoing it.
fn in_fuzz(args: &[&str]) -> Result<()> {
    eprintln!("\n$ (cd fuzz && cargo {})", args.join(" "));
    let status = std::process::Command::new("cargo")
        .args(args)
        .current_dir(root().join("fuzz"))
        .status()
        .context("could not start `cargo`")?;
    anyhow::ensure!(
        status.success(),
        "`cargo {}` failed ({status})",
        args.join(" ")
    );
    Ok(())
}
