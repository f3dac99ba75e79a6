//! Links the binaries with cortex-m-rt's `link.x` and defmt's `defmt.x`, and turns on defmt's
//! `info` and `debug` levels for this package (defmt logs only errors unless `DEFMT_LOG`
//! says otherwise; the variable is read when the macros expand, so setting it for this
//! package's compilation keeps it out of every other package's build).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rustc-env=DEFMT_LOG=debug");
    println!("cargo:rerun-if-changed=build.rs");
}
