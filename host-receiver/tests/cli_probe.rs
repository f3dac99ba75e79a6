//! The `host-receiver` binary's probe side, with no probe attached (what this host and CI
//! have): `chips` lists real chip names from probe-rs's built-in registry, `list` says there is
//! no probe with exit status 1, and `--chip` fails with a message that tells the fix, never a
//! panic. No QEMU needed.
//!
//! On a host with a debug probe plugged in, the no-probe cases check what `list` printed
//! instead (a probe cannot be unplugged by a test).

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_host-receiver");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let run = Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "host-receiver panicked:\n{}",
        run.stderr
    );
    run
}

/// `chips FILTER`: families on lines of their own, their chips indented below.
fn chips(filter: &str) -> Vec<(String, Vec<String>)> {
    let run = run(&["chips", filter]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for line in run.stdout.lines() {
        match line.strip_prefix("    ") {
            Some(chip) => families
                .last_mut()
                .expect("a family before its chips")
                .1
                .push(chip.to_owned()),
            None => families.push((line.to_owned(), Vec::new())),
        }
    }
    families
}

#[test]
fn chips_lists_the_names_probe_rs_knows() {
    let nrf = chips("nrf52840");
    assert!(
        nrf.iter()
            .any(|(family, chips)| family == "nRF52 Series" && chips == &["nRF52840_xxAA"]),
        "{nrf:?}"
    );
    // Any case, any part; a family's name lists all of it.
    let stm = chips("stm32f411");
    let names: Vec<&String> = stm.iter().flat_map(|(_, chips)| chips).collect();
    assert!(names.iter().any(|c| *c == "STM32F411CEUx"), "{names:?}");
    assert!(
        names.iter().all(|c| c.to_lowercase().contains("stm32f411")),
        "{names:?}"
    );
    let series = chips("STM32F4 Series");
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(series[0].1.len() > 50, "the whole family: {series:?}");
    // No filter: every chip, the two example boards' among them.
    let all: Vec<String> = chips("").into_iter().flat_map(|(_, c)| c).collect();
    assert!(all.len() > 1000, "{}", all.len());
    assert!(all.contains(&"nRF52840_xxAA".to_owned()));
}

#[test]
fn chips_without_a_match_says_so_with_status_1() {
    let run = run(&["chips", "no-such-chip-name"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("no chip name of probe-rs's built-in targets contains 'no-such-chip-name'"),
        "{}",
        run.stderr
    );
}

/// Whether this host sees any debug probe (`list` exits 0 then, 1 without).
fn probes_plugged_in() -> bool {
    let run = run(&["list"]);
    match run.code {
        Some(0) => {
            for line in run.stdout.lines() {
                assert!(line.starts_with("--probe "), "{line}");
            }
            assert!(!run.stdout.is_empty());
            true
        }
        Some(1) => {
            assert!(run.stdout.is_empty(), "{}", run.stdout);
            assert!(
                run.stderr.contains(
                    "no debug probe found: plug one in (with a USB cable that carries data)"
                ),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr
                    .contains("https://probe.rs/docs/getting-started/probe-setup/"),
                "{}",
                run.stderr
            );
            false
        }
        other => panic!("list exited with {other:?}: {}", run.stderr),
    }
}

#[test]
fn list_says_what_it_sees() {
    probes_plugged_in();
}

#[test]
fn chip_without_a_probe_says_to_plug_one_in() {
    if probes_plugged_in() {
        return; // checked by `list` above: this host has a probe
    }
    // No --elf: the chip's RAM is searched, once connected.
    let run = run(&["--chip", "nRF52840_xxAA", "--color", "never"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: no debug probe found: plug one in (with a USB cable that carries data); on \
             Linux, a probe that is plugged in but not found usually needs udev rules"
        ),
        "{}",
        run.stderr
    );
    // Standard output is for the target's spans and events: probe-rs's own go to stderr.
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn a_probe_selector_that_matches_nothing_lists_what_there_is() {
    let run = run(&["--chip", "nRF52840_xxAA", "--probe", "ffff:ffff"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: no debug probe matches --probe ffff:ffff; found: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`host-receiver list` shows them"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wrong_chip_name_says_how_to_find_the_right_one_before_touching_a_probe() {
    let run = run(&["--chip", "nRF52840_xxZZ"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error: unknown chip 'nRF52840_xxZZ': `host-receiver chips nRF52840` lists the chip \
             names probe-rs knows that contain 'nRF52840'"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn probe_options_are_refused_without_chip_and_checked_with_it() {
    let run = run(&["--qemu", "fw.elf", "--reset"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("the argument '--qemu <ELF>' cannot be used with '--reset'"),
        "{}",
        run.stderr
    );
    let run = self::run(&["--chip", "x", "--probe", "12345"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("expected VID:PID[:SERIAL]"),
        "{}",
        run.stderr
    );
    let run = self::run(&["--chip", "x", "--protocol", "spi"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("[possible values: swd, jtag]"),
        "{}",
        run.stderr
    );
}

#[test]
fn run_checks_the_elf_before_it_touches_a_probe() {
    // What cargo passes its runner: a path that must be there, and an ELF.
    let missing = run(&["run", "--chip", "nRF52840_xxAA", "no/such/firmware"]);
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("error: no/such/firmware: no such file (cargo passes the ELF it built"),
        "{}",
        missing.stderr
    );
    let dir = std::env::temp_dir().join(format!("rtt-tunnel-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("firmware.bin");
    std::fs::write(&bin, [0u8; 256]).unwrap();
    let not_elf = run(&["run", "--chip", "nRF52840_xxAA", bin.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(not_elf.code, Some(2), "{}", not_elf.stderr);
    assert!(
        not_elf.stderr.contains("is not a firmware ELF file"),
        "{}",
        not_elf.stderr
    );
    assert!(
        !not_elf.stderr.contains("debug probe"),
        "{}",
        not_elf.stderr
    );
}

#[test]
fn run_without_a_probe_says_to_plug_one_in_before_flashing() {
    if probes_plugged_in() {
        return; // checked by `list` above: this host has a probe
    }
    // A real firmware ELF (the QEMU demo, a Cortex-M3 image): read, then the probe is missing.
    let elf = rtt_tunnel_tests::boards::firmware("demo", &rtt_tunnel_tests::boards::BOARDS[0]);
    let run = run(&["run", "--chip", "nRF52840_xxAA", elf.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: before flashing: no debug probe found: plug one in"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
