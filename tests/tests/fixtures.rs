//! The recorded captures of the QEMU runs (`tests/fixtures/`, one per scenario and board)
//! replayed through the frame splitter, the decoder and the `Receiver`, without QEMU: each must
//! give the scenario's snapshot and pass its checks, as the live run did. `cargo xtask bless`
//! records them again.

use std::collections::BTreeSet;

use rtt_tunnel_tests::boards::BOARDS;
use rtt_tunnel_tests::checks::check_run;
use rtt_tunnel_tests::scenario::{
    assert_snapshot, fixtures_dir, replay_capture, same_on_all_boards, Scenario,
};

fn replay_on_every_board(scenario: Scenario) {
    let mut texts = Vec::new();
    for board in &BOARDS {
        let path = scenario.fixture(board);
        let capture = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (record the fixtures with `cargo xtask bless`)",
                path.display()
            )
        });
        let run = replay_capture(scenario, &capture);
        check_run(&run, board);
        texts.push((*board, run.text()));
    }
    let text = same_on_all_boards(scenario, &texts);
    assert_snapshot(scenario, &text);
}

#[test]
fn nested() {
    replay_on_every_board(Scenario::Nested);
}

#[test]
fn instrument() {
    replay_on_every_board(Scenario::Instrument);
}

#[test]
fn values() {
    replay_on_every_board(Scenario::Values);
}

#[test]
fn interrupt() {
    replay_on_every_board(Scenario::Interrupt);
}

#[test]
fn burst() {
    replay_on_every_board(Scenario::Burst);
}

#[test]
fn reset() {
    replay_on_every_board(Scenario::Reset);
}

#[test]
fn panic() {
    replay_on_every_board(Scenario::Panic);
}

#[test]
fn late_attach() {
    replay_on_every_board(Scenario::LateAttach);
}

/// Every fixture belongs to a scenario and a board, and every scenario has one per board.
#[test]
fn fixtures_are_exactly_one_per_scenario_and_board() {
    let found: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = Scenario::ALL
        .iter()
        .flat_map(|scenario| {
            BOARDS.iter().map(move |board| {
                scenario
                    .fixture(board)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
        })
        .collect();
    assert_eq!(found, expected);
}
