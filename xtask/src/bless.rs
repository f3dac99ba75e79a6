//! `cargo xtask bless`: records the QEMU tests' snapshots and fixtures again.
//!
//! 1. Removes the recorded captures in `tests/fixtures/`, then runs the QEMU scenario tests
//!    (`rtt-tunnel-tests`, `qemu_scenarios`) with `RTT_TUNNEL_BLESS=1`, which writes each run's
//!    capture there, and `INSTA_UPDATE=always`, which writes the snapshots in
//!    `tests/snapshots/`. Every check but the snapshot comparison still applies: a run that
//!    goes wrong, or boards that disagree, fail the bless.
//! 2. Runs all of `rtt-tunnel-tests` again without blessing: the replays of the new captures
//!    must give the new snapshots.
//!
//! Review the result with `git diff tests/` before committing it.

use std::process::Command;

use anyhow::{ensure, Context, Result};

use crate::install;
use crate::run::root;

/// What the QEMU tests read to write their captures as fixtures.
const BLESS_ENV: &str = "RTT_TUNNEL_BLESS";

pub fn run() -> Result<()> {
    install::rust_tools()?;
    install::qemu()?;

    let fixtures = root().join("tests/fixtures");
    for entry in std::fs::read_dir(&fixtures)
        .with_context(|| format!("cannot list {}", fixtures.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rttcap") {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    cargo(
        &["test", "-p", "rtt-tunnel-tests", "--test", "qemu_scenarios"],
        &[(BLESS_ENV, "1"), ("INSTA_UPDATE", "always")],
    )?;
    cargo(
        &["test", "-p", "rtt-tunnel-tests"],
        &[(BLESS_ENV, "0"), ("INSTA_UPDATE", "no")],
    )?;
    eprintln!(
        "\nxtask bless: snapshots (tests/snapshots/) and fixtures (tests/fixtures/) recorded \
         again; review them with `git diff tests/`"
    );
    Ok(())
}

/// Runs `cargo args…` in the workspace root with `env` set, echoing it; fails if it fails.
fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!("\n$ {} cargo {}", shown.join(" "), args.join(" "));
    let status = Command::new("cargo")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .context("could not start `cargo`")?;
    ensure!(
        status.success(),
        "`cargo {}` failed ({status})",
        args.join(" ")
    );
    Ok(())
}
