//! Looks up the QEMU board of the target triple in the one board table (`rtt-tunnel-boards`),
//! writes its memory map as `memory.x` on the linker's search path and its constants (machine,
//! tick rate, counter address) for `src/lib.rs`, and links the binaries with cortex-m-rt's
//! `link.x` (which includes `memory.x`). Doing it here rather than in `.cargo/config.toml`
//! makes a build from any directory link the same way.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let Some(board) = rtt_tunnel_boards::for_target(&target) else {
        panic!(
            "qemu-boards has no QEMU board for target {target}: build with --target {}",
            rtt_tunnel_boards::describe_targets()
        );
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), board.memory_x()).expect("write memory.x into OUT_DIR");
    fs::write(out.join("board.rs"), board.constants_rs()).expect("write board.rs into OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // defmt's linker script (from the defmt crate's build script, on the search path) for the
    // one binary that logs with defmt; the others have no `.defmt` section to place.
    println!("cargo:rustc-link-arg-bin=defmt-side=-Tdefmt.x");
    // defmt compiles out every level that `DEFMT_LOG` does not enable (only `error` without
    // it): the defmt-side firmware logs at every level.
    println!("cargo:rustc-env=DEFMT_LOG=trace");
    // The TrustZone board (the AN505) has its FPGA I/O block and clocks elsewhere.
    println!("cargo::rustc-check-cfg=cfg(mps2_tz)");
    if board.trustzone {
        println!("cargo:rustc-cfg=mps2_tz");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
