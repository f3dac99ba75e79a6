//! `cargo xtask test`: everything CI checks, in the order that fails fastest; last, the
//! demo's timeline in a real viewer (`cargo xtask viewer`).

use anyhow::Result;

use crate::install::{self, THUMB_TARGETS};
use crate::run::run as sh;

/// The crates that run on the target: checked and built for every thumb target.
const NO_STD_CRATES: [&str; 2] = ["rtt-tunnel-protocol", "rtt-tunnel-sender"];

/// The crate whose features the thumb checks turn on: the sender's documented configuration.
const SENDER: &str = "rtt-tunnel-sender";

/// The real-board examples: each its own workspace under `boards/`, checked and built from its
/// directory so that its `.cargo/config.toml` (target, runner, shared target dir) applies.
const REAL_BOARDS: [&str; 2] = ["boards/nrf52840-dk", "boards/stm32f4"];

pub fn run() -> Result<()> {
    install::rust_tools()?;
    install::qemu()?;

    sh("cargo", &["fmt", "--all", "--", "--check"])?;
    // The fuzz crate is a workspace of its own (cargo-fuzz's `fuzz/`): formatting only; its
    // runs are `cargo xtask fuzz`.
    cargo_in("fuzz", &["fmt", "--", "--check"])?;
    sh(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The sender's Cortex-M features and its `embassy-time` clock (a library build needs no
    // time driver), checked on every thumb target: its documented configuration (its
    // `[package.metadata.docs.rs]`), so that the docs check below reuses clippy's metadata.
    let sender_features = crate::doc::documented_features(SENDER)?;
    for target in THUMB_TARGETS {
        let mut args = vec!["clippy", "--target", target];
        for krate in NO_STD_CRATES {
            args.extend(["-p", krate]);
        }
        // The sender's Cortex-M board support, `init!` and panic handler too.
        args.extend(["--features", &sender_features]);
        args.extend(["--", "-D", "warnings"]);
        sh("cargo", &args)?;
        // A real build, so that a use of alloc or of missing atomics fails at link level too.
        let mut args = vec!["build", "--target", target];
        for krate in NO_STD_CRATES {
            args.extend(["-p", krate]);
        }
        args.extend(["--features", &sender_features]);
        sh("cargo", &args)?;
    }
    // rustdoc, warnings as errors: every crate as docs.rs would document it (the sender on
    // a thumb target with the features above), on the metadata clippy left.
    crate::doc::workspace()?;
    for board in REAL_BOARDS {
        cargo_in(board, &["fmt", "--", "--check"])?;
        cargo_in(board, &["clippy", "--release", "--", "-D", "warnings"])?;
        crate::doc::firmware(board)?;
        cargo_in(board, &["build", "--release"])?;
    }
    // The QEMU boards' firmware workspace: formatting, clippy, and a release build of every
    // binary (the benchmark firmware included, so that all of it links) for the three boards,
    // one invocation each. The QEMU tests below use the same release binaries.
    cargo_in("boards", &["fmt", "--all", "--", "--check"])?;
    let targets: Vec<&str> = THUMB_TARGETS.iter().flat_map(|t| ["--target", t]).collect();
    let mut args = vec!["clippy", "--release"];
    args.extend(&targets);
    args.extend(["--", "-D", "warnings"]);
    cargo_in("boards", &args)?;
    crate::doc::firmware("boards")?;
    let mut args = vec!["build", "--release"];
    args.extend(&targets);
    cargo_in("boards", &args)?;
    sh("cargo", &["test", "--workspace"])?;
    // The demo's timeline in a real viewer (installs chromium and speedscope if missing).
    crate::viewer::run()?;
    eprintln!("\nxtask test: all checks passed");
    Ok(())
}

/// Runs `cargo args…` in `dir` (relative to the workspace root), echoing it; fails if it fails.
fn cargo_in(dir: &str, args: &[&str]) -> Result<()> {
    crate::run::run_in(dir, &[], "cargo", args)
}
