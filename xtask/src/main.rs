//! `cargo xtask`: placeholder until the verbs land.
fn main() {}
