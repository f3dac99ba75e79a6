//! README's "Add rtt-tunnel to your firmware", followed on a crate this test generates: the
//! dependencies, the `init!` line and the runner are taken from the README's own code blocks
//! (so the section cannot go stale), on a minimal cortex-m-rt firmware for QEMU's default
//! board: `clock = dwt(…)` becomes `clock = systick(…)` (QEMU has no DWT cycle counter) and
//! `--chip CHIP` becomes `--qemu`. Then `cargo run --release` in it must show the firmware's
//! spans and events through `host-receiver run --qemu` and exit 0.
//!
//! The build shares `boards/target` with the QEMU boards' firmware (the same release profile
//! and no RUSTFLAGS), so only the generated crate and the sender are compiled.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The README's section, from its heading to the next one.
fn section(readme: &str) -> &str {
    let start = readme
        .find("## Add rtt-tunnel to your firmware")
        .expect("README has the section");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 3);
    &readme[start..start + end]
}

/// The section's fenced code blocks of `lang`.
fn blocks<'a>(section: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(i) = rest.find(&fence) {
        let body = &rest[i + fence.len()..];
        let end = body.find("```").expect("closed block");
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

fn block_with<'a>(blocks: &[&'a str], needle: &str) -> &'a str {
    blocks
        .iter()
        .find(|b| b.contains(needle))
        .unwrap_or_else(|| panic!("no README block with {needle:?}"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_readme_set_up_runs_in_qemu_through_the_runner() {
    rtt_tunnel_tests::boards::require_qemu();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = section(&readme);
    let toml = blocks(section, "toml");
    let rust = blocks(section, "rust");
    let board = rtt_tunnel_boards::DEFAULT;
    let sender = root.join("firmware-sender").canonicalize().unwrap();

    // Step 2: the dependencies, with this repository's sender.
    let deps = block_with(&toml, "rtt-tunnel-sender").replace(
        "path = \"../rtt-tunnel/firmware-sender\"",
        &format!("path = {:?}", sender.display().to_string()),
    );
    assert!(deps.contains(&sender.display().to_string()), "{deps}");
    // Step 3: `main` up to its first event, on SysTick milliseconds.
    let init = block_with(&rust, "rtt_tunnel_sender::init!");
    let main_head: String = init
        .lines()
        .take_while(|l| !l.trim_start().starts_with("// …"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(main_head.contains("clock = dwt("), "{main_head}");
    let main_head = main_head.replace(
        "clock = dwt(64_000_000)",
        &format!("clock = systick({})", board.tick_hz),
    );
    // Step 4: the runner, for QEMU.
    let runner = block_with(&toml, "runner = ")
        .replace("thumbv7em-none-eabihf", board.target)
        .replace("--chip nRF52840_xxAA", "--qemu");
    assert!(runner.contains("host-receiver run --qemu"), "{runner}");

    let app = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("quickstart-app");
    let _ = std::fs::remove_dir_all(&app);
    write(
        &app.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"quickstart-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n{deps}\
             cortex-m = {{ version = \"0.7.7\", features = [\"critical-section-single-core\"] }}\n\
             cortex-m-rt = \"0.7.5\"\ncortex-m-semihosting = \"0.6\"\n\n\
             [profile.release]\nopt-level = \"s\"\ndebug = true\nlto = true\ncodegen-units = 1\n"
        ),
    );
    // As cortex-m-quickstart: memory.x on the linker's path, link.x for the binary.
    write(&app.join("memory.x"), &board.memory_x());
    write(
        &app.join("build.rs"),
        "fn main() {\n    let out = std::path::PathBuf::from(std::env::var(\"OUT_DIR\").unwrap());\n    \
         std::fs::copy(\"memory.x\", out.join(\"memory.x\")).unwrap();\n    \
         println!(\"cargo:rustc-link-search={}\", out.display());\n    \
         println!(\"cargo:rustc-link-arg-bins=-Tlink.x\");\n    \
         println!(\"cargo:rerun-if-changed=memory.x\");\n}\n",
    );
    write(
        &app.join("src/main.rs"),
        &format!(
            "#![no_std]\n#![no_main]\n\n{main_head}\
             \x20   {{\n        let _work = tracing::info_span!(\"work\", n = 3).entered();\n        \
             tracing::info!(answer = 42, \"inside work\");\n    }}\n    \
             // QEMU only: the host reads everything, then the firmware exits.\n    \
             rtt_tunnel_sender::flush_registered();\n    \
             cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);\n    \
             loop {{}}\n}}\n"
        ),
    );
    write(
        &app.join(".cargo/config.toml"),
        &format!("[build]\ntarget = {:?}\n\n{runner}", board.target),
    );

    // Step 5, with this build's host-receiver first on PATH (as `cargo install` would put it).
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_host-receiver"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--release", "--", "--color", "never"])
        .current_dir(&app)
        .env("PATH", path)
        .env(
            "CARGO_TARGET_DIR",
            rtt_tunnel_tests::boards::boards_dir().join("target"),
        )
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo run failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    assert!(
        stderr.contains("Running `host-receiver run --qemu"),
        "not run through the runner:\n{stderr}"
    );
    let up = stdout
        .lines()
        .find(|l| l.contains("INFO") && l.ends_with("quickstart_app: up"))
        .unwrap_or_else(|| panic!("no `up` event:\n{stdout}\n{stderr}"));
    assert!(
        up.trim_start().ends_with("s  INFO quickstart_app: up"),
        "{up}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("work: quickstart_app: inside work answer=42 n=3")),
        "no event inside its span:\n{stdout}"
    );
    assert!(
        stderr.contains("host-receiver: the firmware exited with code 0"),
        "{stderr}"
    );
}
