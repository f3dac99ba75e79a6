//! Puts the memory map of the QEMU board that the target triple stands for on the linker's
//! search path as `memory.x` (cortex-m-rt's `link.x` includes it; each binary package passes
//! `-Tlink.x` itself), and tells the code which board it is built for.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    // The same maps as boards/qemu/memory/*.x: code in ZBT SSRAM1, data in SSRAM2/3.
    let (board, memory) = match target.as_str() {
        "thumbv7m-none-eabi" | "thumbv7em-none-eabihf" | "thumbv7em-none-eabi" => (
            "mps2-an385/an386",
            "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 4M\n  RAM   : ORIGIN = 0x20000000, LENGTH = 4M\n}\n",
        ),
        "thumbv8m.main-none-eabihf" | "thumbv8m.main-none-eabi" => (
            "mps2-an505",
            "MEMORY\n{\n  FLASH : ORIGIN = 0x10000000, LENGTH = 4M\n  RAM   : ORIGIN = 0x28000000, LENGTH = 4M\n}\n",
        ),
        other => panic!(
            "bench-common has no QEMU board for target {other}: build with --target \
             thumbv7m-none-eabi (mps2-an385), thumbv7em-none-eabihf (mps2-an386) or \
             thumbv8m.main-none-eabihf (mps2-an505)"
        ),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(
        out.join("memory.x"),
        format!("/* {board} in QEMU */\n{memory}"),
    )
    .expect("write memory.x into OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    // The AN505 has its FPGA I/O block elsewhere.
    println!("cargo::rustc-check-cfg=cfg(mps2_tz)");
    if board == "mps2-an505" {
        println!("cargo:rustc-cfg=mps2_tz");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
