//! Issue 11 in QEMU on the three boards: frames lost to a 2 KiB ring are made good (`churn`,
//! ten runs per board: the host's drop count is the target's, nothing the target closed or
//! exited stays open or entered on the host, every event has its parent), and capacity
//! overflow reaches the host (`capacity`: a `WARN` per capacity with the count and the fix).

use rtt_tunnel_tests::boards::BOARDS;
use rtt_tunnel_tests::checks::check_run;
use rtt_tunnel_tests::scenario::{run_in_qemu, Scenario};

/// Runs of `churn` per board.
const CHURN_RUNS: usize = 10;

#[test]
fn lost_frames_are_made_good_in_every_run() {
    for board in &BOARDS {
        let mut dropped = Vec::new();
        for _ in 0..CHURN_RUNS {
            let run = run_in_qemu(Scenario::Churn, board);
            check_run(&run, board);
            dropped.push(run.stats.dropped_frames);
        }
        eprintln!("churn on {}: dropped frames {dropped:?}", board.machine);
    }
}

#[test]
fn capacity_overflow_is_warned_with_the_fix() {
    for board in &BOARDS {
        let run = run_in_qemu(Scenario::Capacity, board);
        check_run(&run, board);
    }
}
