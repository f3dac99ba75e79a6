//! Running commands, loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Runs `program args…` in the workspace root, echoing it; fails if it fails.
pub fn run(program: &str, args: &[&str]) -> Result<()> {
    run_in(".", &[], program, args)
}

/// Runs `program args…` in `dir` (relative to the workspace root, `.` for the root) with the
/// environment variables `env` set, echoing it as a shell would take it; fails if it fails.
pub fn run_in(dir: &str, env: &[(&str, &str)], program: &str, args: &[&str]) -> Result<()> {
    let vars: String = env.iter().map(|(k, v)| format!("{k}=\"{v}\" ")).collect();
    let command = format!("{vars}{program} {}", args.join(" "));
    let place = if dir == "." {
        eprintln!("\n$ {command}");
        String::new()
    } else {
        eprintln!("\n$ (cd {dir} && {command})");
        format!(" in {dir}")
    };
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root().join(dir))
        .status()
        .with_context(|| format!("could not start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}`{place} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs `program args…` quietly and returns its standard output, or `None` if it failed.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
