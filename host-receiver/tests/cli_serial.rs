//! `host-receiver --serial` end to end in QEMU: the `uart-demo` firmware sends its frames over
//! the board's UART0 (a CMSDK APB UART), QEMU connects it to a pseudo-terminal (`-serial pty`),
//! and host-receiver reads that terminal as a serial port, on the three boards. The firmware
//! waits for the host's first request (`--resend`) before it traces, then exits, which closes
//! the terminal and ends the run.
//! Needs `qemu-system-arm` and the thumb targets: the tests fail, never skip, without them.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rtt_tunnel_tests::boards::{
    firmware_for_target as firmware, require_qemu, TARGET_MACHINES as BOARDS,
};

const BIN: &str = env!("CARGO_BIN_EXE_host-receiver");
/// How long any step may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// What host-receiver prints, without the time column, for the firmware on `board`.
fn expected(board: &str) -> String {
    let lines = [
        "DEBUG uart:round: uart_demo: sample value=0 ok=true label=\"over the line\" board=\"{BOARD}\" round=0",
        " INFO uart:round: uart_demo: round done signed=0 board=\"{BOARD}\" round=0",
        "DEBUG uart:round: uart_demo: sample value=10 ok=false label=\"over the line\" board=\"{BOARD}\" round=1",
        " WARN uart:round: uart_demo: half way ratio=0.5 board=\"{BOARD}\" round=1",
        " INFO uart:round: uart_demo: round done signed=-1 board=\"{BOARD}\" round=1",
        "DEBUG uart:round: uart_demo: sample value=20 ok=true label=\"over the line\" board=\"{BOARD}\" round=2",
        " INFO uart:round: uart_demo: round done signed=-2 board=\"{BOARD}\" round=2",
        " INFO uart_demo: done rounds=3",
    ];
    lines.map(|l| l.replace("{BOARD}", board) + "\n").concat()
}

#[test]
fn uart_demo_over_a_qemu_serial_port_on_three_boards() {
    require_qemu();
    for (target, machine) in BOARDS {
        let elf = firmware("uart-demo", target);
        let mut qemu = Command::new("qemu-system-arm")
            .args(["-machine", machine, "-nographic", "-monitor", "none"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(["-serial", "pty", "-kernel"])
            .arg(&elf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qemu-system-arm starts");
        // QEMU names the pseudo-terminal on standard output.
        let (lines, found) = mpsc::channel();
        let stdout = qemu.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let pty = loop {
            let line = found
                .recv_timeout(PATIENCE)
                .expect("QEMU names its pseudo-terminal");
            if let Some(at) = line.find("/dev/") {
                break line[at..].split_whitespace().next().unwrap().to_owned();
            }
        };

        let run = Command::new(BIN)
            // The ELF resolves the constant messages the target sends by reference.
            .args(["--serial", &pty, "--resend", "--color", "never", "--elf"])
            .arg(&elf)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("host-receiver runs");
        let stdout = String::from_utf8(run.stdout).unwrap();
        let stderr = String::from_utf8(run.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(run.status.code(), Some(0), "{machine}: {stderr}");
        // The time column: seconds since boot, with microseconds.
        let untimed: String = stdout
            .lines()
            .map(|line| {
                let (time, rest) = line.trim_start().split_once(' ').unwrap();
                assert!(time.ends_with('s') && time.contains('.'), "{line}");
                format!("{rest}\n")
            })
            .collect();
        assert_eq!(untimed, expected(machine), "{machine}");
        assert!(
            stderr.contains("errors: 0 frame, 0 decode, 0 receive"),
            "{machine}: {stderr}"
        );
        assert!(stderr.contains("went away"), "{machine}: {stderr}");

        let start = Instant::now();
        let status = loop {
            if let Some(status) = qemu.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > PATIENCE {
                qemu.kill().unwrap();
                panic!("{machine}: QEMU did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut errors = String::new();
        qemu.stderr
            .take()
            .unwrap()
            .read_to_string(&mut errors)
            .unwrap();
        assert!(status.success(), "{machine}: the firmware failed: {errors}");
    }
}
