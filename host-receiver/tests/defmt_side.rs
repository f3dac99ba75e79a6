//! defmt side by side in QEMU: the `defmt-side` firmware logs with defmt on RTT up channel 1
//! and traces with rtt-tunnel on up channel 0, in one control block. `host-receiver --qemu`
//! finds the defmt table in the ELF and the `defmt` channel in the block, drains both in each
//! poll, and shows the defmt lines among the tracing events, in the order the firmware logged
//! them, at their defmt timestamps, inside the spans the firmware was in; `--record` then
//! `replay --elf` prints the same. On the three boards.
//!
//! Needs `qemu-system-arm` and the thumb targets: the tests fail, never skip, without them.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rtt_tunnel_tests::boards::{
    firmware_for_target as firmware, require_qemu, TARGET_MACHINES as BOARDS,
};

const BIN: &str = env!("CARGO_BIN_EXE_host-receiver");
const PATIENCE: Duration = Duration::from_secs(60);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs host-receiver to its end (at most [`PATIENCE`]).
fn run(args: &[&str]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("host-receiver {args:?} did not end within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// What the firmware logs, in order: (target, level, message, spans).
fn expected(machine: &str) -> Vec<(String, String, String, Vec<String>)> {
    let mut lines = vec![
        (
            "defmt_side",
            "INFO",
            "tracing on up channel 0".to_owned(),
            vec![],
        ),
        (
            "defmt",
            "INFO",
            format!("defmt on up channel 1, board {machine}"),
            vec![],
        ),
    ];
    for round in 0..3u32 {
        let spans = vec!["work", "round"];
        lines.extend([
            (
                "defmt_side",
                "TRACE",
                "tracing step".to_owned(),
                spans.clone(),
            ),
            (
                "defmt",
                "DEBUG",
                format!("defmt step {round}"),
                spans.clone(),
            ),
            ("defmt_side", "INFO", "measured".to_owned(), spans.clone()),
            (
                "defmt",
                "TRACE",
                format!("defmt trace value={}", round * 7),
                spans,
            ),
        ]);
    }
    lines.extend([
        (
            "defmt",
            "WARN",
            "defmt warning 0xbeef".to_owned(),
            vec!["work"],
        ),
        (
            "defmt_side",
            "WARN",
            "tracing warning".to_owned(),
            vec!["work"],
        ),
        (
            "defmt",
            "ERROR",
            "defmt error: none really".to_owned(),
            vec![],
        ),
        (
            "defmt",
            "INFO",
            "defmt println, no level".to_owned(),
            vec![],
        ),
        ("defmt_side", "INFO", "done".to_owned(), vec![]),
    ]);
    lines
        .into_iter()
        .map(|(target, level, message, spans)| {
            (
                target.to_owned(),
                level.to_owned(),
                message,
                spans.into_iter().map(String::from).collect(),
            )
        })
        .collect()
}

fn on_board(target: &str, machine: &str) {
    require_qemu();
    let elf = firmware("defmt-side", target);
    let elf = elf.to_str().unwrap();
    let capture = std::env::temp_dir().join(format!(
        "rtt-tunnel-defmt-side-{}-{machine}.rttcap",
        std::process::id()
    ));
    let capture = capture.to_str().unwrap();
    let live = run(&["--qemu", elf, "--format", "json", "--record", capture]);
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    assert!(
        live.stderr
            .contains("and defmt channel 'defmt' (6 log statements in the ELF's table)"),
        "{}",
        live.stderr
    );
    assert!(
        live.stderr
            .contains("; also up channel 1 'defmt' (1024 bytes)"),
        "{}",
        live.stderr
    );
    assert!(
        live.stderr.contains("; defmt: 10 lines ("),
        "{}",
        live.stderr
    );
    assert!(live.stderr.contains(", 0 errors"), "{}", live.stderr);

    let events: Vec<serde_json::Value> = live
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        // The last record is the run's summary, not an event.
        .filter(|record: &serde_json::Value| record.get("summary").is_none())
        .collect();
    let seen: Vec<(String, String, String, Vec<String>)> = events
        .iter()
        .map(|event| {
            let spans = event["spans"]
                .as_array()
                .map(|spans| {
                    spans
                        .iter()
                        .map(|s| s["name"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (
                event["target"].as_str().unwrap().to_owned(),
                event["level"].as_str().unwrap().to_owned(),
                event["fields"]["message"].as_str().unwrap().to_owned(),
                spans,
            )
        })
        .collect();
    assert_eq!(seen, expected(machine), "{}", live.stdout);
    // Target time, from both clocks, never goes back.
    let times: Vec<f64> = events
        .iter()
        .map(|e| {
            let t = e["timestamp"].as_str().unwrap();
            t.strip_suffix('s').unwrap().parse().unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(times[0] > 0.0);

    // The recording, with the ELF for its defmt table, replays to the same output.
    let replay = run(&["replay", capture, "--format", "json", "--elf", elf]);
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    assert!(
        replay.stdout == live.stdout,
        "--- live:\n{}\n--- replay:\n{}",
        live.stdout,
        replay.stdout
    );
    assert!(
        replay
            .stderr
            .contains("firmware 'qemu-boards/defmt-side 0.1.0'"),
        "{}",
        replay.stderr
    );
    // Without it, the tracing side alone, and a word about what is missing.
    let without = run(&["replay", capture, "--format", "json"]);
    assert_eq!(without.code, Some(0), "{}", without.stderr);
    assert!(
        without
            .stderr
            .contains("the capture has defmt lines: pass the firmware's ELF"),
        "{}",
        without.stderr
    );
    let tracing_only: Vec<&str> = live
        .stdout
        .lines()
        .filter(|l| !l.contains("\"target\":\"defmt\""))
        .collect();
    assert_eq!(without.stdout.lines().collect::<Vec<_>>(), tracing_only);
    let _ = std::fs::remove_file(capture);
}

#[test]
fn mps2_an385() {
    on_board(BOARDS[0].0, BOARDS[0].1);
}

#[test]
fn mps2_an386() {
    on_board(BOARDS[1].0, BOARDS[1].1);
}

#[test]
fn mps2_an505() {
    on_board(BOARDS[2].0, BOARDS[2].1);
}

/// `--defmt` insists: a firmware without a defmt table is an error that says so.
#[test]
fn defmt_required_without_a_table_is_a_clear_error() {
    require_qemu();
    let demo = firmware("demo", BOARDS[0].0);
    let run = run(&["--qemu", demo.to_str().unwrap(), "--defmt"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("has no defmt table (no `.defmt` section with log statements)"),
        "{}",
        run.stderr
    );
}
