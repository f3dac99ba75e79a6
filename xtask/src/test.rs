//! `cargo xtask test`: everything CI checks, in the order that fails fastest.

use anyhow::Result;

use crate::install::{self, THUMB_TARGETS};
use crate::run::run as sh;

/// The crates that run on the target: checked and built for every thumb target.
const NO_STD_CRATES: [&str; 2] = ["rtt-tunnel-protocol", "rtt-tunnel-sender"];

pub fn run() -> Result<()> {
    install::rust_tools()?;
    install::qemu()?;

    sh("cargo", &["fmt", "--all", "--", "--check"])?;
    sh(
        "cargo",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    )?;
    for target in THUMB_TARGETS {
        let mut args = vec!["clippy", "--target", target];
        for krate in NO_STD_CRATES {
            args.extend(["-p", krate]);
        }
        args.extend(["--", "-D", "warnings"]);
        sh("cargo", &args)?;
        // A real build, so that a use of alloc or of missing atomics fails at link level too.
        let mut args = vec!["build", "--target", target];
        for krate in NO_STD_CRATES {
            args.extend(["-p", krate]);
        }
        sh("cargo", &args)?;
    }
    sh("cargo", &["test", "--workspace"])?;
    eprintln!("\nxtask test: all checks passed");
    Ok(())
}


