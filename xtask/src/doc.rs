//! The docs check of `cargo xtask test`: `cargo doc --no-deps` with rustdoc's warnings as
//! errors (a broken or redundant link fails), for every crate in its documented configuration.
//!
//! A workspace crate's documented configuration is the one docs.rs would build, from its
//! `[package.metadata.docs.rs]`: its `features` (or `all-features`) on its `default-target` (or
//! the first of its `targets`), or the default features on the host. The crates documented on
//! the host go through one `cargo doc`, those of another target through one per target. The
//! firmware workspaces under `boards/` are documented as they build, in release as their
//! clippy runs. `cargo doc` needs only the metadata of the dependencies, which those clippy
//! runs left in the same target directories: the docs add little more than rustdoc's own runs.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::run::{root, run_in};

/// The keys of `[package.metadata.docs.rs]` this check follows. Any other key fails the check:
/// it would document something else than docs.rs.
const DOCS_RS_KEYS: [&str; 4] = ["features", "all-features", "default-target", "targets"];

/// Documents the workspace crates in their documented configurations; fails on a rustdoc
/// warning.
pub fn workspace() -> Result<()> {
    for (target, build) in documented_configurations()? {
        let features = build.features.join(",");
        let mut args = vec!["doc", "--no-deps"];
        if let Some(target) = &target {
            args.extend(["--target", target]);
        }
        for package in &build.packages {
            args.extend(["-p", package]);
        }
        if !features.is_empty() {
            args.extend(["--features", &features]);
        }
        cargo_doc(".", &args)?;
    }
    Ok(())
}

/// Documents the firmware workspace in `dir` (relative to the workspace root; its
/// `.cargo/config.toml` names the target) in release, as its clippy run checks it; fails on a
/// rustdoc warning.
pub fn firmware(dir: &str) -> Result<()> {
    cargo_doc(dir, &["doc", "--no-deps", "--release"])
}

/// The features `package` is documented with (`package/feature`, comma-separated), as
/// `--features` takes them.
pub fn documented_features(package: &str) -> Result<String> {
    let configurations = documented_configurations()?;
    let build = configurations
        .values()
        .find(|build| build.packages.iter().any(|p| p == package))
        .with_context(|| format!("no workspace crate {package}"))?;
    let prefix = format!("{package}/");
    let features: Vec<&str> = build
        .features
        .iter()
        .filter(|feature| feature.starts_with(&prefix))
        .map(String::as_str)
        .collect();
    Ok(features.join(","))
}

/// The crates one `cargo doc` documents, and their features (`package/feature`) besides the
/// default ones.
#[derive(Default)]
struct DocBuild {
    packages: Vec<String>,
    features: Vec<String>,
}

/// The workspace crates by the target they are documented for (`None`: the host), with the
/// features they are documented with.
fn documented_configurations() -> Result<BTreeMap<Option<String>, DocBuild>> {
    let out = Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .context("could not start `cargo metadata`")?;
    ensure!(
        out.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&out.stdout).context("`cargo metadata` printed no JSON")?;
    let mut configurations: BTreeMap<_, DocBuild> = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"]
            .as_str()
            .context("a package without a name in `cargo metadata`")?;
        let docs_rs = &package["metadata"]["docs"]["rs"];
        let mut keys = docs_rs
            .as_object()
            .into_iter()
            .flat_map(|table| table.keys());
        if let Some(key) = keys.find(|key| !DOCS_RS_KEYS.contains(&key.as_str())) {
            bail!("{name}: the docs check (xtask/src/doc.rs) does not follow docs.rs's `{key}`");
        }
        let features: Vec<String> = if docs_rs["all-features"].as_bool() == Some(true) {
            let all = package["features"].as_object().into_iter().flatten();
            all.map(|(feature, _)| feature.clone())
                .filter(|feature| feature != "default")
                .collect()
        } else {
            strings(&docs_rs["features"])
        };
        let target = docs_rs["default-target"]
            .as_str()
            .map(String::from)
            .or_else(|| strings(&docs_rs["targets"]).into_iter().next());
        let build = configurations.entry(target).or_default();
        build.packages.push(name.to_string());
        build
            .features
            .extend(features.iter().map(|feature| format!("{name}/{feature}")));
    }
    Ok(configurations)
}

/// The strings of a JSON array (none if it is not one).
fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().into_iter().flatten();
    items.filter_map(|v| v.as_str().map(String::from)).collect()
}

/// Runs `cargo args…` in `dir` (relative to the workspace root) with rustdoc's warnings as
/// errors, echoing it; fails if it fails.
fn cargo_doc(dir: &str, args: &[&str]) -> Result<()> {
    let flags = match std::env::var("RUSTDOCFLAGS") {
        Ok(flags) if !flags.trim().is_empty() => format!("{flags} -D warnings"),
        _ => "-D warnings".to_string(),
    };
    run_in(dir, &[("RUSTDOCFLAGS", &flags)], "cargo", args).context("see rustdoc's warnings above")
}
