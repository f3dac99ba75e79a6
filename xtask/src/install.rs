//! Installing what the build and the tests need, when it is missing.

use anyhow::{bail, Result};

use crate::run::{output, run};

/// The thumb targets: those of the board table (Cortex-M3, Cortex-M4F/M7F, Cortex-M33).
pub const THUMB_TARGETS: [&str; 3] = [
    rtt_tunnel_boards::BOARDS[0].target,
    rtt_tunnel_boards::BOARDS[1].target,
    rtt_tunnel_boards::BOARDS[2].target,
];

/// rustfmt, clippy and the thumb targets, through rustup.
pub fn rust_tools() -> Result<()> {
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    for component in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(component)) {
            run("rustup", &["component", "add", component])?;
        }
    }
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let missing: Vec<&str> = THUMB_TARGETS
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        let mut args = vec!["target", "add"];
        args.extend(&missing);
        run("rustup", &args)?;
    }
    Ok(())
}

/// `qemu-system-arm`, from Debian's package.
pub fn qemu() -> Result<()> {
    debian_package("qemu-system-arm", "qemu-system-arm")
}

/// A program from Debian's package `package`, unless `program --version` already runs.
fn debian_package(program: &str, package: &str) -> Result<()> {
    if output(program, &["--version"]).is_some() {
        return Ok(());
    }
    let root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| -> Result<()> {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend(args);
        run(all[0], &all[1..])
    };
    apt(&["update"])?;
    apt(&["install", "-y", "--no-install-recommends", package])?;
    if output(program, &["--version"]).is_none() {
        bail!("{program} is still missing after apt-get install {package}");
    }
    Ok(())
}

/// Debian's `chromium` (the viewer check runs it headless).
pub fn chromium() -> Result<()> {
    debian_package("chromium", "chromium")
}

/// `npm`, from Debian's package, unless there is one.
pub fn npm() -> Result<()> {
    debian_package("npm", "npm")
}
