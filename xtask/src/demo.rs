//! `cargo xtask demo [HOST-RECEIVER OPTIONS]`: the demo firmware in QEMU, its spans and events
//! live in the terminal.
//!
//! Installs what is missing (the thumb targets, `qemu-system-arm`), builds the demo firmware
//! (`boards/qemu/src/bin/demo.rs`) for the Cortex-M3 board and `host-receiver` (without the
//! probe-rs transport, which the demo does not need), then becomes
//!
//! ```text
//! host-receiver --qemu boards/target/thumbv7m-none-eabi/release/demo --machine mps2-an385 \
//!     --color always [HOST-RECEIVER OPTIONS]
//! ```
//!
//! so Ctrl-C and the exit code are host-receiver's own. Options after `demo` go to
//! host-receiver: `cargo xtask demo --format pretty`, `cargo xtask demo --filter info`,
//! `cargo xtask demo --timeline demo.json` (a timeline for the Perfetto UI or speedscope, in
//! the workspace root).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::install;
use crate::run::{root, run as sh};

/// The demo's board: the board table's default (target triple and QEMU machine).
const TARGET: &str = rtt_tunnel_boards::DEFAULT.target;
pub(crate) const MACHINE: &str = rtt_tunnel_boards::DEFAULT.machine;

pub fn run(extra: &[String]) -> Result<()> {
    install::rust_tools()?;
    install::qemu()?;

    let firmware = build_firmware()?;
    let host_receiver = build_host_receiver()?;

    let firmware = firmware
        .to_str()
        .context("the firmware path is not UTF-8")?;
    let mut args = vec!["--qemu", firmware];
    // The demo's defaults, unless the options after `demo` say otherwise.
    let given = |flag: &str| {
        extra
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    for (flag, value) in [("--machine", MACHINE), ("--color", "always")] {
        if !given(flag) {
            args.extend([flag, value]);
        }
    }
    args.extend(extra.iter().map(String::as_str));
    eprintln!("\n$ {} {}", host_receiver.display(), args.join(" "));
    let mut command = Command::new(&host_receiver);
    command.args(&args).current_dir(root());
    exec(command)
}

/// `host-receiver` built (debug, no default features); its path.
pub(crate) fn build_host_receiver() -> Result<PathBuf> {
    sh(
        "cargo",
        &["build", "-p", "host-receiver", "--no-default-features"],
    )?;
    let host_receiver = host_target_dir().join("debug").join("host-receiver");
    if !host_receiver.is_file() {
        bail!(
            "cargo built host-receiver, but {} is not there (is build.target-dir set in a \
             cargo config? set CARGO_TARGET_DIR instead)",
            host_receiver.display()
        );
    }
    Ok(host_receiver)
}

/// Builds the demo firmware into `boards/target` (its own target directory, as the tests do,
/// so thumb artifacts never mix with host ones) and returns the ELF's path.
pub(crate) fn build_firmware() -> Result<PathBuf> {
    let boards = root().join("boards");
    let target_dir = boards.join("target");
    let args = ["build", "--release", "--target", TARGET, "--bin", "demo"];
    eprintln!("\n$ (cd boards && cargo {})", args.join(" "));
    // From boards/, so its .cargo/config.toml applies; host build flags stay out.
    let status = Command::new("cargo")
        .args(args)
        .current_dir(&boards)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .context("could not start cargo to build the demo firmware")?;
    if !status.success() {
        bail!("building the demo firmware failed ({status})");
    }
    let elf = target_dir.join(TARGET).join("release").join("demo");
    if !elf.is_file() {
        bail!(
            "the demo firmware was built, but {} is not there",
            elf.display()
        );
    }
    Ok(elf)
}

/// The host workspace's target directory: `CARGO_TARGET_DIR`, else `target/`.
pub(crate) fn host_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Replaces this process with `command` (Unix), so the terminal's Ctrl-C reaches only
/// host-receiver, which stops QEMU and prints its summary; elsewhere, runs it and passes its
/// exit code on.
fn exec(mut command: Command) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(error).context("could not start host-receiver")
    }
    #[cfg(not(unix))]
    {
        let status = command.status().context("could not start host-receiver")?;
        std::process::exit(status.code().unwrap_or(1));
    }
}
