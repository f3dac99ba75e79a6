//! Links the binaries with cortex-m-rt's `link.x` (bench-common puts `memory.x` on the
//! search path).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=build.rs");
}
