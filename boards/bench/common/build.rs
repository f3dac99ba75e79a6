//! Puts the memory map of the QEMU board that the target triple stands for (from the one
//! board table, `rtt-tunnel-boards`) on the linker's search path as `memory.x` (cortex-m-rt's
//! `link.x` includes it; each binary package passes `-Tlink.x` itself), and writes the board's
//! constants (tick rate, counter address) for `src/lib.rs`.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let Some(board) = rtt_tunnel_boards::for_target(&target) else {
        panic!(
            "bench-common has no QEMU board for target {target}: build with --target {}",
            rtt_tunnel_boards::describe_targets()
        );
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), board.memory_x()).expect("write memory.x into OUT_DIR");
    fs::write(out.join("board.rs"), board.constants_rs()).expect("write board.rs into OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo::rustc-check-cfg=cfg(mps2_tz)");
    if board.trustzone {
        println!("cargo:rustc-cfg=mps2_tz");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
