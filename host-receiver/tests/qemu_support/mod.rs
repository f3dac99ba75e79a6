//! What the QEMU tests share: build the board firmware once per target, and insist on QEMU.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use host_receiver::qemu;

/// The boards we test on: (target triple, QEMU machine).
pub const BOARDS: [(&str, &str); 3] = [
    ("thumbv7m-none-eabi", "mps2-an385"),
    ("thumbv7em-none-eabihf", "mps2-an386"),
    ("thumbv8m.main-none-eabihf", "mps2-an505"),
];

/// The firmware workspace.
pub fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards")
}

/// Fails (never skips) when `qemu-system-arm` cannot run, saying how to install it.
pub fn require_qemu() {
    assert!(
        qemu::is_installed(Path::new("qemu-system-arm")),
        "qemu-system-arm is not installed, and the QEMU tests need it: \
         `sudo apt-get install --no-install-recommends qemu-system-arm` \
         (Debian/Ubuntu; `cargo xtask test` installs it)"
    );
}

/// The path of firmware binary `bin` for `target`, building every binary of the boards
/// workspace for that target the first time any test asks (one `cargo build` per target per
/// test process; cargo's own lock serialises test processes).
pub fn firmware(bin: &str, target: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let boards = boards_dir();
    let target_dir = boards.join("target");
    {
        let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
        let result = built
            .entry(target.to_owned())
            .or_insert_with(|| build(&boards, &target_dir, target));
        if let Err(error) = result {
            panic!("{error}");
        }
    }
    let path = target_dir.join(target).join("release").join(bin);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build(boards: &Path, target_dir: &Path, target: &str) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Run from boards/ so its .cargo/config.toml applies; keep the host build's flags out.
    let output = Command::new(cargo)
        .current_dir(boards)
        .args(["build", "--release", "--bins", "--target", target])
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .map_err(|e| format!("cannot run cargo to build the board firmware: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the board firmware for {target} failed (is the target installed? \
             `rustup target add {target}`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
