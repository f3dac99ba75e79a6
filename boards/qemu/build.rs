//! Picks the memory map of the QEMU board that the target triple stands for, puts it on the
//! linker's search path as `memory.x`, and links the binaries with cortex-m-rt's `link.x`
//! (which includes it). Doing it here rather than in `.cargo/config.toml` makes a build from
//! any directory link the same way.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let board = match target.as_str() {
        "thumbv7m-none-eabi" => "mps2-an385",
        "thumbv7em-none-eabihf" => "mps2-an386",
        "thumbv8m.main-none-eabihf" => "mps2-an505",
        other => panic!(
            "qemu-boards has no QEMU board for target {other}: build with --target \
             thumbv7m-none-eabi (mps2-an385), thumbv7em-none-eabihf (mps2-an386) or \
             thumbv8m.main-none-eabihf (mps2-an505)"
        ),
    };
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let source = manifest.join("memory").join(format!("{board}.x"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(&source, out.join("memory.x")).expect("copy memory.x into OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // defmt's linker script (from the defmt crate's build script, on the search path) for the
    // one binary that logs with defmt; the others have no `.defmt` section to place.
    println!("cargo:rustc-link-arg-bin=defmt-side=-Tdefmt.x");
    // defmt compiles out every level that `DEFMT_LOG` does not enable (only `error` without
    // it): the defmt-side firmware logs at every level.
    println!("cargo:rustc-env=DEFMT_LOG=trace");
    println!("cargo:rustc-env=QEMU_BOARD={board}");
    // The AN505 (an IoT Kit with TrustZone) has its FPGA I/O block and clocks elsewhere.
    println!("cargo::rustc-check-cfg=cfg(mps2_tz)");
    if board == "mps2-an505" {
        println!("cargo:rustc-cfg=mps2_tz");
    }
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed=build.rs");
}
