//! Every scenario of the `scenarios` firmware in QEMU on the three boards, drained through QEMU's
//! gdbstub by a `Session` into the `Receiver`: what the host's `tracing` saw must match the
//! scenario's snapshot on every board, and pass the scenario's checks (`checks.rs`).
//!
//! Needs `qemu-system-arm` and the thumb targets: without them the tests fail with the command
//! that installs them; they never skip. With `RTT_TUNNEL_BLESS=1` (`cargo xtask bless`) each run
//! also writes its capture to `tests/fixtures/`, which `fixtures.rs` replays without QEMU.

use rtt_tunnel_tests::boards::BOARDS;
use rtt_tunnel_tests::checks::check_run;
use rtt_tunnel_tests::scenario::{
    assert_snapshot, blessing, run_in_qemu, same_on_all_boards, Scenario,
};

fn scenario_on_every_board(scenario: Scenario) {
    let mut texts = Vec::new();
    for board in &BOARDS {
        let run = run_in_qemu(scenario, board);
        if blessing() {
            let path = scenario.fixture(board);
            std::fs::write(&path, &run.capture)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        check_run(&run, board);
        texts.push((*board, run.text()));
    }
    let text = same_on_all_boards(scenario, &texts);
    assert_snapshot(scenario, &text);
}

#[test]
fn nested() {
    scenario_on_every_board(Scenario::Nested);
}

#[test]
fn instrument() {
    scenario_on_every_board(Scenario::Instrument);
}

#[test]
fn values() {
    scenario_on_every_board(Scenario::Values);
}

#[test]
fn interrupt() {
    scenario_on_every_board(Scenario::Interrupt);
}

#[test]
fn burst() {
    scenario_on_every_board(Scenario::Burst);
}

#[test]
fn reset() {
    scenario_on_every_board(Scenario::Reset);
}

#[test]
fn panic() {
    scenario_on_every_board(Scenario::Panic);
}

#[test]
fn late_attach() {
    scenario_on_every_board(Scenario::LateAttach);
}

/// The scenarios firmware's vector table names the core's exceptions, for the timeline's
/// tracks.
#[test]
fn the_vector_table_names_the_exceptions() {
    for board in &BOARDS {
        let path = rtt_tunnel_tests::boards::firmware("scenarios", board);
        let elf = rtt_tunnel_host::elf::FirmwareElf::read(&path).expect("the firmware ELF");
        let names = elf.exception_names();
        for (number, name) in [
            (2, "NMI"),
            (3, "HardFault"),
            (14, "PendSV"),
            (15, "SysTick"),
        ] {
            assert_eq!(
                names.get(&number).map(String::as_str),
                Some(name),
                "{}: {names:?}",
                board.machine
            );
        }
        // Reserved entries are not named; device interrupts are IRQ<n> without a handler
        // of their own.
        assert!(!names.contains_key(&8), "{names:?}");
        assert!(
            names
                .range(16..)
                .all(|(n, name)| *name == format!("IRQ{}", n - 16)),
            "{names:?}"
        );
    }
}
