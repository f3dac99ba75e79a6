//! `host-receiver`: drains a microcontroller's RTT channel and shows its `tracing` spans and
//! events in the terminal, at the time they happened on the target. `host-receiver --help`
//! tells how.

mod cli;

fn main() {
    let code = cli::main();
    std::process::exit(code);
}
