//! The `host-receiver` binary end to end: the boards' firmware runs in QEMU under
//! `host-receiver --qemu`, and what a person would see is checked: the demo's spans and events
//! with target timestamps, the summary, the exit code, and clear errors (never a panic) when
//! the ELF is wrong, the channel is missing, QEMU is missing or killed, or Ctrl-C comes; and
//! `--record` then `replay` printing exactly what the live run printed, also when QEMU is
//! killed in the middle of the run.
//! Needs `qemu-system-arm` and the thumb targets: the tests fail, never skip, without them.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rtt_tunnel_tests::boards::{
    firmware_for_target as firmware, require_qemu, TARGET_MACHINES as BOARDS,
};

const BIN: &str = env!("CARGO_BIN_EXE_host-receiver");
/// How long any run may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// What a finished run left.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "host-receiver panicked:\n{}",
            self.stderr
        );
    }
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` (at most [`PATIENCE`], then kills it and fails) and collects its output.
fn finish(mut child: Child) -> Run {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > PATIENCE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "host-receiver did not end within {PATIENCE:?}; it said:\n{}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    finish(command(args).spawn().unwrap())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Lines of text output start with the target time: seconds with microseconds.
fn has_target_time(line: &str) -> bool {
    let Some(time) = line.split_whitespace().next() else {
        return false;
    };
    let Some(secs) = time.strip_suffix('s') else {
        return false;
    };
    let Some((whole, micros)) = secs.split_once('.') else {
        return false;
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && micros.len() == 6
        && micros.bytes().all(|b| b.is_ascii_digit())
}

fn demo(target: &str) -> PathBuf {
    require_qemu();
    firmware("demo", target)
}

/// The demo on one board: its spans and events, nested, at target times; the summary; exit 0.
fn demo_on(target: &str, machine: &str) {
    let elf = demo(target);
    // The machine comes from the target triple in the path.
    let run = run(&["--qemu", path(&elf), "--color", "never"]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let relayed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.contains("rtt_tunnel"))
        .collect();
    assert!(relayed.len() > 100, "{}", run.stdout);
    for line in &relayed {
        assert!(has_target_time(line), "no target time in {line:?}");
    }
    let has = |needle: &str| relayed.iter().any(|l| l.contains(needle));
    assert!(
        has(&format!("demo firmware up board=\"{machine}\"")),
        "{}",
        run.stdout
    );
    // `info!("ready")` went by reference (its offset in flash): the host read the text from
    // the ELF.
    assert!(has(" INFO demo: ready"), "{}", run.stdout);
    assert!(!has("<flash text"), "{}", run.stdout);
    // Nesting: an #[instrument]ed function inside the loop's spans; the SysTick interrupt's
    // span not inside whatever thread mode had entered (its frames say it ran in a handler).
    assert!(has(
        "sensor_loop:round:sample:bus_read: demo: bus transfer done"
    ));
    assert!(has(" DEBUG systick: demo: heartbeat"));
    assert!(!has(":systick: demo: heartbeat"));
    assert!(has(
        " WARN sensor_loop:round: demo: temperature above the limit"
    ));
    assert!(has("ERROR sensor_loop:round: demo: sensor unavailable"));
    assert!(has("demo: demo finished rounds=20"));
    assert!(
        run.stderr.contains("errors: 0 frame, 0 decode, 0 receive"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("dropped by the target: 0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the firmware exited with code 0"),
        "{}",
        run.stderr
    );
    // Times go forward within the boot.
    let times: Vec<f64> = relayed
        .iter()
        .map(|l| {
            let t = l.split_whitespace().next().unwrap();
            t.trim_end_matches('s').parse().unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn demo_mps2_an385() {
    demo_on(BOARDS[0].0, BOARDS[0].1);
}

#[test]
fn demo_mps2_an386() {
    demo_on(BOARDS[1].0, BOARDS[1].1);
}

#[test]
fn demo_mps2_an505() {
    demo_on(BOARDS[2].0, BOARDS[2].1);
}

#[test]
fn json_output_is_one_object_per_line_with_the_target_time() {
    let elf = demo(BOARDS[0].0);
    let run = run(&[
        "--qemu",
        path(&elf),
        "--machine",
        BOARDS[0].1,
        "--format",
        "json",
        "--filter",
        "info",
    ]);
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    let mut events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // The last record is the summary: nothing dropped, nothing left open.
    let summary = events.pop().expect("the summary record");
    let summary = &summary["summary"];
    assert_eq!(summary["dropped_by_target"], 0, "{summary}");
    assert_eq!(summary["left_open"]["spans"], 0, "{summary}");
    assert_eq!(
        summary["target_capacity"]["spans_untracked"], 0,
        "{summary}"
    );
    assert!(summary["frames"].as_u64().unwrap() > 0, "{summary}");
    assert!(!events.is_empty());
    for event in &events {
        let level = event["level"].as_str().unwrap();
        assert!(["INFO", "WARN", "ERROR"].contains(&level), "{event}");
        let time = event["timestamp"].as_str().unwrap();
        assert!(has_target_time(time), "{event}");
    }
    let finished = events.last().unwrap();
    assert_eq!(finished["fields"]["message"], "demo finished");
    assert_eq!(finished["fields"]["frames_dropped"], 0);
}

#[test]
fn an_elf_that_is_not_the_running_firmware_is_a_clear_error() {
    let demo = demo(BOARDS[0].0);
    let smoke = firmware("rtt-smoke", BOARDS[0].0);
    let run = run(&[
        "--qemu",
        path(&demo),
        "--elf",
        path(&smoke),
        "--attach-timeout",
        "1",
    ]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("no RTT control block found at 0x"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("is the sender initialised"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("is the ELF the one running on the target?"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_firmware_without_the_channel_lists_the_channels_it_has() {
    require_qemu();
    let smoke = firmware("rtt-smoke", BOARDS[0].0);
    let run = run(&["--qemu", path(&smoke)]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: up channel 'rtt-tunnel' not found; up channels are: 0 'Terminal' (64 bytes), \
             1 'smoke' (1024 bytes)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_qemu_says_how_to_install_it() {
    let smoke = firmware("rtt-smoke", BOARDS[0].0);
    let run = finish(
        command(&["--qemu", path(&smoke), "--channel", "smoke"])
            .env("PATH", "/nonexistent")
            .spawn()
            .unwrap(),
    );
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("apt-get install --no-install-recommends qemu-system-arm"),
        "{}",
        run.stderr
    );
}

/// The children of process `pid` (all its threads').
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Starts host-receiver on the smoke firmware, which waits forever for the host to set its
/// channel blocking; returns it with its QEMU's pid once QEMU runs.
fn start_hanging_target() -> (Child, u32) {
    require_qemu();
    let smoke = firmware("rtt-smoke", BOARDS[0].0);
    let mut child = command(&["--qemu", path(&smoke), "--channel", "smoke"])
        .spawn()
        .unwrap();
    match first_child_within(child.id(), PATIENCE) {
        Some(qemu) => {
            // Let it attach and poll for a while.
            std::thread::sleep(Duration::from_millis(500));
            (child, qemu)
        }
        None => {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("QEMU never started");
        }
    }
}

/// The first child process of `pid`, waiting for it at most `patience`.
fn first_child_within(pid: u32, patience: Duration) -> Option<u32> {
    let start = Instant::now();
    while start.elapsed() < patience {
        if let Some(&child) = children(pid).first() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn killing_qemu_mid_run_is_a_clear_error() {
    let (child, qemu) = start_hanging_target();
    signal(qemu, "-KILL");
    let run = finish(child);
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("QEMU was killed by signal 9"),
        "{}",
        run.stderr
    );
    // The summary still comes.
    assert!(run.stderr.contains("0 bytes, 0 frames"), "{}", run.stderr);
}

#[test]
fn ctrl_c_stops_cleanly_and_stops_qemu() {
    let (child, qemu) = start_hanging_target();
    signal(child.id(), "-INT");
    let run = finish(child);
    run.assert_no_panic();
    assert_eq!(run.code, Some(130), "{}", run.stderr);
    assert!(run.stderr.contains("stopped (Ctrl-C)"), "{}", run.stderr);
    assert!(
        !Path::new(&format!("/proc/{qemu}")).exists(),
        "QEMU (pid {qemu}) still runs"
    );
}

#[test]
fn help_and_usage_errors() {
    let run = run(&["--help"]);
    assert_eq!(run.code, Some(0));
    for flag in [
        "--qemu",
        "--gdb",
        "--chip",
        "--elf",
        "--machine",
        "--append",
        "--ram",
        "--probe",
        "--speed",
        "--protocol",
        "--connect-under-reset",
        "--reset",
        "--channel",
        "--defmt",
        "--no-defmt",
        "--defmt-channel",
        "--format",
        "--filter",
        "--color",
        "--resend",
        "--level",
        "--record",
    ] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
    for command in ["list ", "chips ", "replay "] {
        assert!(
            run.stdout.contains(command),
            "{command} missing from --help"
        );
    }
    let run = self::run(&[]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("--qemu <ELF>|--gdb <HOST:PORT>|--chip <CHIP>"),
        "{}",
        run.stderr
    );
    let run = self::run(&["--gdb", "127.0.0.1:9"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("pass --elf FILE"), "{}", run.stderr);
}

/// QEMU started by hand, halted, with its gdbstub on a free loopback port.
struct HandStartedQemu {
    child: Child,
    port: u16,
}

impl HandStartedQemu {
    fn start(elf: &Path, machine: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("qemu-system-arm")
            .args(["-machine", machine, "-nographic"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-kernel")
            .arg(elf)
            .args(["-gdb", &format!("tcp:127.0.0.1:{port}"), "-S"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the gdbstub listens.
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < PATIENCE, "QEMU's gdbstub never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
        HandStartedQemu { child, port }
    }
}

impl Drop for HandStartedQemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--gdb` with `--elf`, then with `--ram` (no ELF): the same demo, and the exit code from
/// the GDB server's exit report.
#[test]
fn any_gdb_server_with_an_elf_or_a_ram_range() {
    let elf = demo(BOARDS[0].0);
    for locate in [
        vec!["--elf", path(&elf)],
        vec!["--ram", "0x20000000..0x20010000"],
    ] {
        // A fresh QEMU for each run: the firmware exits at the end of one.
        let qemu = HandStartedQemu::start(&elf, BOARDS[0].1);
        let address = format!("127.0.0.1:{}", qemu.port);
        let mut args = vec!["--gdb", address.as_str(), "--color", "never"];
        args.extend(&locate);
        let run = run(&args);
        run.assert_no_panic();
        assert_eq!(run.code, Some(0), "{locate:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("demo: demo finished rounds=20"),
            "{locate:?}: {}",
            run.stdout
        );
        // `info!("ready")` went by reference: with --ram there is no ELF, and the host read
        // the text from the target's memory through the GDB server.
        assert!(
            run.stdout.contains(" INFO demo: ready\n"),
            "{locate:?}: {}",
            run.stdout
        );
        assert!(!run.stdout.contains("<flash text"), "{}", run.stdout);
        assert!(!run.stderr.contains("not resolved"), "{}", run.stderr);
        assert!(
            run.stderr.contains("the firmware exited with code 0"),
            "{}",
            run.stderr
        );
    }
}

/// A named pipe in the temporary directory that gives `bytes` to one reader: a second open
/// waits for a writer that never comes. Returns it and the thread that writes it.
fn readable_once(name: &str, bytes: Vec<u8>) -> (TempFile, std::thread::JoinHandle<()>) {
    let pipe = TempFile::new(name);
    let status = Command::new("mkfifo").arg(pipe.path()).status().unwrap();
    assert!(status.success(), "mkfifo {}", pipe.path());
    let path = pipe.0.clone();
    let writer = std::thread::spawn(move || std::fs::write(path, bytes).unwrap());
    (pipe, writer)
}

/// host-receiver reads the firmware ELF once for all it takes from it (the control block, the
/// defmt table, the texts sent by reference, the timeline's track names): given through a
/// named pipe, which has its bytes for one reader only, a run with `--gdb --elf` and a
/// `replay --elf`, both with a timeline, end as they do with the file (a second read would
/// wait forever).
#[test]
fn the_elf_is_read_once() {
    let elf = demo(BOARDS[0].0);
    let bytes = std::fs::read(&elf).unwrap();
    let capture = TempFile::new("elf-once.rttcap");
    let timeline = TempFile::new("elf-once.json");

    let qemu = HandStartedQemu::start(&elf, BOARDS[0].1);
    let address = format!("127.0.0.1:{}", qemu.port);
    let (pipe, writer) = readable_once("elf-once-live.elf", bytes.clone());
    let live = run(&[
        "--gdb",
        &address,
        "--elf",
        pipe.path(),
        "--color",
        "never",
        "--record",
        capture.path(),
        "--timeline",
        timeline.path(),
    ]);
    live.assert_no_panic();
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    writer.join().unwrap();
    // `info!("ready")` went by reference, and the ELF read through the pipe had its text.
    assert!(
        live.stdout.contains(" INFO demo: ready\n"),
        "{}",
        live.stdout
    );
    assert!(!live.stderr.contains("not resolved"), "{}", live.stderr);

    let (pipe, writer) = readable_once("elf-once-replay.elf", bytes);
    let replay = run(&[
        "replay",
        capture.path(),
        "--elf",
        pipe.path(),
        "--color",
        "never",
        "--timeline",
        timeline.path(),
    ]);
    replay.assert_no_panic();
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    writer.join().unwrap();
    assert!(replay.stdout == live.stdout, "{}", replay.stdout);
}

/// `--level` reaches the target through the down channel (it filters on the target from its
/// next poll on); `--resend` brings a re-sent Hello, which is no reset.
#[test]
fn requests_reach_the_target() {
    let elf = demo(BOARDS[0].0);
    let run = run(&[
        "--qemu",
        path(&elf),
        "--color",
        "never",
        "--level",
        "info",
        "--resend",
    ]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let finished = lines
        .iter()
        .position(|l| l.contains("demo finished"))
        .expect("the demo finished");
    // The request is read at the end of the first round: from the fifth round's progress
    // report on, nothing below INFO.
    let progress = lines
        .iter()
        .position(|l| l.contains("progress round=4"))
        .expect("a progress report");
    for line in &lines[progress..=finished] {
        assert!(
            !line.contains(" DEBUG ") && !line.contains(" TRACE "),
            "below --level info: {line}"
        );
    }
    assert!(
        run.stderr
            .contains("errors: 0 frame, 0 decode, 0 receive; resets: 0"),
        "{}",
        run.stderr
    );
}

/// A file in the temporary directory, unique to this process, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        TempFile(std::env::temp_dir().join(format!("rtt-tunnel-cli-{}-{name}", std::process::id())))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The summary line of a run or a replay (`host-receiver: N bytes, M frames; ...`).
fn summary_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains(" bytes, ") && l.contains(" frames; "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

/// `--record` while the demo runs, then `replay` of the file with the same output options:
/// the same standard output, byte for byte (the status lines, such as where the host
/// attached, are on standard error); and `replay` takes every output option.
#[test]
fn a_recording_replays_to_exactly_what_the_live_run_printed() {
    let elf = demo(BOARDS[0].0);
    for (name, format) in [
        ("json", &["--format", "json"][..]),
        ("compact", &["--format", "compact", "--color", "never"][..]),
    ] {
        let capture = TempFile::new(&format!("demo-{name}.rttcap"));
        let mut args = vec!["--qemu", path(&elf), "--record", capture.path()];
        args.extend(format);
        let live = run(&args);
        live.assert_no_panic();
        assert_eq!(live.code, Some(0), "{}", live.stderr);
        assert!(
            live.stderr
                .contains(&format!("recording into {}", capture.path())),
            "{}",
            live.stderr
        );
        assert!(live.stdout.lines().count() > 100, "{}", live.stdout);

        let mut args = vec!["replay", capture.path()];
        args.extend(format);
        let replay = run(&args);
        replay.assert_no_panic();
        assert_eq!(replay.code, Some(0), "{}", replay.stderr);
        assert!(
            replay.stdout == live.stdout,
            "{name}: the replay differs from the live run\n--- live:\n{}\n--- replay:\n{}",
            live.stdout,
            replay.stdout
        );
        assert_eq!(summary_line(&replay.stderr), summary_line(&live.stderr));
        // The header says what was recorded.
        let info = format!(
            "host-receiver: replaying {}: protocol {}; firmware 'qemu-boards/demo 0.1.0' (boot 1, \
             25000000 ticks/s); ",
            capture.path(),
            rtt_tunnel_protocol::PROTOCOL_VERSION
        );
        assert!(replay.stderr.contains(&info), "{}", replay.stderr);
        // The replay has no ELF: `info!("ready")`, sent by reference, prints its text from
        // the capture's record of it.
        assert!(
            replay.stderr.contains(" texts sent by reference"),
            "{}",
            replay.stderr
        );
        assert!(replay.stdout.contains("ready"), "{}", replay.stdout);
        assert!(!replay.stdout.contains("<flash text"), "{}", replay.stdout);

        if name == "compact" {
            // Other output options on the same recording: a filter, colours.
            let warnings = run(&[
                "replay",
                capture.path(),
                "--filter",
                "warn",
                "--color",
                "never",
            ]);
            assert_eq!(warnings.code, Some(0), "{}", warnings.stderr);
            let expected: Vec<&str> = live
                .stdout
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .collect();
            assert!(expected.len() >= 5, "{}", live.stdout);
            let filtered: Vec<&str> = warnings.stdout.lines().collect();
            assert_eq!(filtered.len(), expected.len(), "{}", warnings.stdout);
            // The same events; the spans around them are below `warn`, so not shown.
            for (replayed, live) in filtered.iter().zip(&expected) {
                let (time_and_level, rest) = replayed.split_at(18);
                let message = rest.split_once("demo: ").unwrap().1;
                assert!(
                    live.starts_with(time_and_level) && live.contains(message),
                    "{replayed} / {live}"
                );
            }
            let coloured = run(&["replay", capture.path(), "--color", "always"]);
            assert!(coloured.stdout.contains("\x1b["), "{}", coloured.stdout);
            let pretty = run(&["replay", capture.path(), "--format", "pretty"]);
            assert!(
                pretty
                    .stdout
                    .contains("in demo::sensor_loop with rounds: 20"),
                "{}",
                pretty.stdout
            );
        }
    }
}

/// QEMU killed while the firmware waits in the middle of its run: the recording holds every
/// byte host-receiver read, and replays to exactly what the live run printed before the kill.
#[test]
fn a_recording_is_whole_up_to_the_last_byte_read_when_qemu_is_killed() {
    require_qemu();
    let scenarios = firmware("scenarios", BOARDS[0].0);
    let capture = TempFile::new("killed.rttcap");
    // `late_attach` traces, says it waits for the host, then waits 10 s for a request that
    // this host does not send.
    let mut child = command(&[
        "--qemu",
        path(&scenarios),
        "--append",
        "late_attach",
        "--record",
        capture.path(),
        "--color",
        "never",
    ])
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr_pipe.read_to_string(&mut text).unwrap();
        text
    });
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let start = Instant::now();
    loop {
        let left = PATIENCE.saturating_sub(start.elapsed());
        match lines_rx.recv_timeout(left) {
            Ok(line) if line.contains("waiting for the host") => break,
            Ok(_) => {}
            Err(error) => {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("the scenario never said it waits ({error})");
            }
        }
    }
    let qemu = first_child_within(child.id(), PATIENCE).expect("QEMU runs under host-receiver");
    signal(qemu, "-KILL");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > 2 * PATIENCE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("host-receiver did not end after QEMU was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr_reader.join().unwrap();
    let live_stdout = reader.join().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("QEMU was killed by signal 9"), "{stderr}");

    let replay = run(&["replay", capture.path(), "--color", "never"]);
    replay.assert_no_panic();
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    assert!(
        !replay.stderr.contains("cut off"),
        "each poll is a whole record: {}",
        replay.stderr
    );
    assert!(
        replay.stdout.contains("waiting for the host"),
        "{}",
        replay.stdout
    );
    assert!(
        replay.stdout == live_stdout,
        "--- live:\n{live_stdout}\n--- replay:\n{}",
        replay.stdout
    );
    assert_eq!(summary_line(&replay.stderr), summary_line(&stderr));
}

/// `--timeline` on the demo on every board: the same standard output as without it, a
/// timeline whose structure holds, and `replay --timeline` of the run's recording writes the
/// same timeline byte for byte. A timeline that cannot be written (`/dev/full`) is an error
/// on standard error and exit status 2, and the terminal output is all there.
#[test]
fn a_timeline_of_the_demo_replays_to_the_same_timeline() {
    for (target, machine) in BOARDS {
        let elf = demo(target);
        let live = TempFile::new(&format!("{machine}-live.json"));
        let replayed = TempFile::new(&format!("{machine}-replay.json"));
        let recording = TempFile::new(&format!("{machine}-timeline.rttcap"));
        let args = [
            "--qemu",
            path(&elf),
            "--color",
            "never",
            "--counter",
            "average",
        ];
        let live_run = run(&[
            &args[..],
            &["--timeline", live.path(), "--record", recording.path()],
        ]
        .concat());
        live_run.assert_no_panic();
        assert_eq!(live_run.code, Some(0), "{machine}: {}", live_run.stderr);
        assert!(
            live_run.stdout.contains("demo finished"),
            "{machine}: {}",
            live_run.stdout
        );
        assert!(
            live_run.stderr.contains("host-receiver: timeline: ")
                && live_run.stderr.contains("0 slices still open"),
            "{machine}: {}",
            live_run.stderr
        );
        let trace = std::fs::read(&live.0).unwrap();
        let shape = rtt_tunnel_tests::timeline::check_structure(&trace)
            .unwrap_or_else(|e| panic!("{machine}: {e}"));
        assert!(shape.thread_depth >= 4, "{machine}: {shape:?}");
        assert_eq!(
            shape.instants,
            live_run.stdout.lines().count(),
            "{machine}: one instant per event line"
        );

        let replay = |timeline: &str| {
            run(&[
                "replay",
                recording.path(),
                "--color",
                "never",
                "--counter",
                "average",
                "--timeline",
                timeline,
            ])
        };
        let again = replay(replayed.path());
        assert_eq!(again.code, Some(0), "{machine}: {}", again.stderr);
        assert_eq!(again.stdout, live_run.stdout, "{machine}: replay's output");
        assert!(
            std::fs::read(&replayed.0).unwrap() == trace,
            "{machine}: the replay's timeline differs from the live run's"
        );

        let full = replay("/dev/full");
        full.assert_no_panic();
        assert_eq!(full.code, Some(2), "{machine}: {}", full.stderr);
        assert_eq!(
            full.stdout, live_run.stdout,
            "{machine}: the terminal output goes on"
        );
        assert!(
            full.stderr
                .contains("error: --timeline /dev/full: cannot write the timeline file"),
            "{machine}: {}",
            full.stderr
        );
    }
}

/// A timeline file that cannot be created stops the run before the target is touched.
#[test]
fn a_timeline_that_cannot_be_created_is_refused_first() {
    let elf = demo(BOARDS[0].0);
    let run = run(&[
        "--qemu",
        path(&elf),
        "--timeline",
        "/nonexistent-dir/t.json",
    ]);
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: --timeline /nonexistent-dir/t.json: cannot create the timeline file"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("attached"), "{}", run.stderr);
}

/// The demo's SysTick heartbeat: by default not inside the thread-mode span it preempted;
/// with `--handler-parents preempted`, inside it (the target's one stack of entered spans).
#[test]
fn handler_parents_place_the_heartbeat() {
    let elf = demo(BOARDS[0].0);
    let heartbeats = |extra: &[&str]| {
        let run = run(&[&["--qemu", path(&elf), "--color", "never"], extra].concat());
        run.assert_no_panic();
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        run.stdout
            .lines()
            .filter(|l| l.contains("heartbeat"))
            .map(|l| l.split_whitespace().nth(2).unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let own = heartbeats(&[]);
    assert!(!own.is_empty());
    assert!(own.iter().all(|spans| spans == "systick:"), "{own:?}");
    let preempted = heartbeats(&["--handler-parents", "preempted"]);
    assert_eq!(preempted.len(), own.len());
    assert!(
        preempted
            .iter()
            .all(|spans| spans.starts_with("sensor_loop:") && spans.ends_with(":systick:")),
        "{preempted:?}"
    );
}
