//! The QEMU boards, and the firmware of `boards/` built for them once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rtt_tunnel_host::qemu;

/// A QEMU board the firmware runs on: an entry of the one board table (`rtt-tunnel-boards`).
pub type Board = rtt_tunnel_boards::Board;

/// The boards: Cortex-M3, Cortex-M4F, Cortex-M33 (the board table's).
pub const BOARDS: [Board; 3] = rtt_tunnel_boards::BOARDS;

/// The boards as (target triple, QEMU machine), for tests that loop over them.
pub const TARGET_MACHINES: [(&str, &str); 3] = [
    (BOARDS[0].target, BOARDS[0].machine),
    (BOARDS[1].target, BOARDS[1].machine),
    (BOARDS[2].target, BOARDS[2].machine),
];

/// The path of firmware binary `bin` of the `qemu-boards` package for the board of `target`,
/// built as [`firmware`] builds it.
///
/// # Panics
///
/// As [`firmware`], or when no board is built for `target`.
pub fn firmware_for_target(bin: &str, target: &str) -> PathBuf {
    let board = rtt_tunnel_boards::for_target(target)
        .unwrap_or_else(|| panic!("no QEMU board for target {target}"));
    firmware(bin, board)
}

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

/// The path of firmware binary `bin` of the `qemu-boards` package for `board`. The first call
/// in a test process builds every binary of that package for all three boards in one
/// `cargo build` (release, what `cargo xtask test` checks with clippy); cargo's own lock
/// serialises test processes.
///
/// # Panics
///
/// When the build fails (with cargo's output and the likely fix), or `bin` does not exist.
pub fn firmware(bin: &str, board: &Board) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let target_dir = boards_dir().join("target");
    if let Err(error) = BUILT.get_or_init(|| build(&boards_dir(), &target_dir)) {
        panic!("{error}");
    }
    let path = target_dir.join(board.target).join("release").join(bin);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build(boards: &Path, target_dir: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    // From boards/, so its .cargo/config.toml applies; the host build's flags kept out.
    command
        .current_dir(boards)
        .args(["build", "--release", "--package", "qemu-boards", "--bins"])
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for board in &BOARDS {
        command.args(["--target", board.target]);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo to build the board firmware: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let targets: Vec<&str> = BOARDS.iter().map(|b| b.target).collect();
        Err(format!(
            "building the board firmware failed (are the targets installed? \
             `rustup target add {}`):\n{}",
            targets.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
