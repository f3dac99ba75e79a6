//! The probe transport's own logic, without a probe: selector and option parsing, how options
//! map onto probe-rs calls, the choice of a probe, chip names, error messages, and the memory
//! path through probe-rs's own fake probe.

use std::io;

use probe_rs::architecture::arm::ArmError;
use probe_rs::config::{Registry, RegistryError};
use probe_rs::integration::FakeProbe;
use probe_rs::probe::{DebugProbeError, ProbeCreationError, WireProtocol};

use super::catalog::resolve_chip;
use super::error::{chip_filter, connect_error, memory_error, open_error, ConnectContext};
use super::options::{AfterConnect, Plan};
use super::*;
use crate::memory::{Access, MemoryError, TargetMemory};
use crate::rtt::{Poll, RttOptions, RttReader};

fn selector(text: &str) -> ProbeSelector {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn selectors_parse_as_probe_rs_writes_them() {
    let s = selector("1366:1015");
    assert_eq!((s.vendor_id, s.product_id), (0x1366, 0x1015));
    assert_eq!((s.interface, s.serial_number.as_deref()), (None, None));

    let s = selector("0483:374B:066DFF555051");
    assert_eq!((s.vendor_id, s.product_id), (0x0483, 0x374b));
    assert_eq!(s.serial_number.as_deref(), Some("066DFF555051"));

    // Everything after the second colon is the serial (ESP JTAG probes use a MAC address).
    let s = selector("303a:1001:DC:DA:0C:D3:FE:D8");
    assert_eq!(s.serial_number.as_deref(), Some("DC:DA:0C:D3:FE:D8"));

    // A multi-channel FTDI probe: the channel after the PID.
    let s = selector("0403:6010-1");
    assert_eq!((s.product_id, s.interface), (0x6010, Some(1)));
    let s = selector("0403:6010-1:FT123");
    assert_eq!(
        (s.interface, s.serial_number.as_deref()),
        (Some(1), Some("FT123"))
    );

    // An empty serial asks for a probe without one; a 0x prefix is forgiven.
    assert_eq!(selector("c251:f002:").serial_number.as_deref(), Some(""));
    assert_eq!(selector("0xc251:0xF002").product_id, 0xf002);
}

#[test]
fn selectors_print_back_the_way_they_parse() {
    for text in [
        "1366:1015",
        "0483:374b:066DFF555051",
        "0403:6010-1:FT123",
        "c251:f002:",
    ] {
        assert_eq!(selector(text).to_string(), text);
    }
    assert_eq!(ProbeSelector::new(0x2e8a, 0xc).to_string(), "2e8a:000c");
    let to_probe_rs = probe_rs::probe::DebugProbeSelector::from(&selector("0403:6010-1:FT123"));
    assert_eq!(to_probe_rs.to_string(), "0403:6010-1:FT123");
}

#[test]
fn bad_selectors_say_what_form_is_expected() {
    for (input, reason) in [
        ("1366", "no ':' between VID and PID"),
        ("", "no ':' between VID and PID"),
        ("13661:1015", "VID '13661' is not 1 to 4 hex digits"),
        ("1366:", "PID '' is not 1 to 4 hex digits"),
        ("jlnk:1015", "VID 'jlnk' is not hexadecimal"),
        ("0403:6010-b", "interface 'b' is not a number"),
    ] {
        let error = input.parse::<ProbeSelector>().unwrap_err();
        assert_eq!(error.reason, reason, "{input}");
        let message = error.to_string();
        assert!(message.contains("expected VID:PID[:SERIAL]"), "{message}");
        assert!(!message.contains("host-receiver"), "{message}");
    }
}

#[test]
fn a_selector_matches_by_ids_then_interface_and_serial() {
    let found = selector("0483:374b:AAA");
    assert!(selector("0483:374b").matches(&found));
    assert!(selector("0483:374b:AAA").matches(&found));
    assert!(!selector("0483:374b:BBB").matches(&found));
    assert!(!selector("0483:374e").matches(&found));
    assert!(!selector("0483:374b:").matches(&found), "wants no serial");
    assert!(selector("0483:374b:").matches(&ProbeSelector::new(0x0483, 0x374b)));
    let ftdi = selector("0403:6010-1:FT");
    assert!(selector("0403:6010-1").matches(&ftdi));
    assert!(!selector("0403:6010-0").matches(&ftdi));
    assert!(selector("0403:6010").matches(&ftdi));
}

#[test]
fn protocols_parse_in_any_case_and_map_onto_probe_rs() {
    assert_eq!("swd".parse::<Protocol>().unwrap(), Protocol::Swd);
    assert_eq!("JTAG".parse::<Protocol>().unwrap(), Protocol::Jtag);
    assert_eq!(
        "spi".parse::<Protocol>().unwrap_err().to_string(),
        "unknown protocol 'spi': use swd or jtag"
    );
    assert_eq!(WireProtocol::from(Protocol::Swd), WireProtocol::Swd);
    assert_eq!(WireProtocol::from(Protocol::Jtag), WireProtocol::Jtag);
    assert_eq!(Protocol::Jtag.to_string(), "jtag");
}

#[test]
fn startup_and_connect_under_reset_map_onto_probe_rs_calls() {
    let plan = |startup, under_reset| {
        ProbeOptions::new("nRF52840_xxAA")
            .startup(startup)
            .connect_under_reset(under_reset)
            .plan()
    };
    // The default touches nothing: attach to the running firmware.
    assert_eq!(ProbeOptions::new("x").startup, Startup::Attach);
    assert_eq!(
        plan(Startup::Attach, false),
        Plan {
            under_reset: false,
            after: AfterConnect::Nothing
        }
    );
    assert_eq!(
        plan(Startup::Reset, false),
        Plan {
            under_reset: false,
            after: AfterConnect::ResetAndRun
        }
    );
    // Under reset, probe-rs stops the core at its reset vector: it only has to run (a second
    // reset would be one too many), whatever the startup asked for.
    for startup in [Startup::Attach, Startup::Reset] {
        assert_eq!(
            plan(startup, true),
            Plan {
                under_reset: true,
                after: AfterConnect::Run
            }
        );
    }
}

fn listed(name: &str, selector_text: &str, accessible: bool) -> ListedProbe {
    ListedProbe {
        name: name.into(),
        kind: "test".into(),
        selector: selector(selector_text),
        accessible,
    }
}

#[test]
fn the_only_probe_is_chosen_and_none_says_plug_one_in() {
    let jlink = listed("J-Link", "1366:1015:000683000001", true);
    let found = [jlink.clone()];
    assert_eq!(choose_probe(&found, None).unwrap(), &jlink);

    let error = choose_probe(&[], None).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ProbeError::NoProbe));
    assert!(message.contains("plug one in"), "{message}");
    assert!(message.contains(PROBE_SETUP_URL), "{message}");
    assert!(!message.contains("host-receiver"), "{message}");
}

#[test]
fn several_probes_ask_for_probe_and_list_the_selectors() {
    let found = [
        listed("J-Link", "1366:1015:000683000001", true),
        listed("STLink V2-1", "0483:374b:066DFF", true),
    ];
    let error = choose_probe(&found, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "2 debug probes found, and no selector picks one: \
         J-Link (1366:1015:000683000001), STLink V2-1 (0483:374b:066DFF)"
    );
    // A selector picks one of them.
    let chosen = choose_probe(&found, Some(&selector("0483:374b"))).unwrap();
    assert_eq!(chosen.name, "STLink V2-1");
    // Two of the same kind: the serial decides.
    let twins = [
        listed("J-Link", "1366:1015:1", true),
        listed("J-Link", "1366:1015:2", true),
    ];
    assert!(matches!(
        choose_probe(&twins, Some(&selector("1366:1015"))),
        Err(ProbeError::SeveralProbes { probes }) if probes.len() == 2
    ));
    assert_eq!(
        choose_probe(&twins, Some(&selector("1366:1015:2")))
            .unwrap()
            .selector
            .serial_number
            .as_deref(),
        Some("2")
    );
}

#[test]
fn a_probe_selector_that_matches_nothing_lists_what_there_is() {
    let found = [listed("J-Link", "1366:1015:1", true)];
    let message = choose_probe(&found, Some(&selector("0483:374b")))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "no debug probe matches 0483:374b; found: J-Link (1366:1015:1)"
    );
    let message = choose_probe(&[], Some(&selector("0483:374b")))
        .unwrap_err()
        .to_string();
    assert!(message.ends_with("found: none"), "{message}");
}

#[test]
fn a_probe_this_user_may_not_open_points_at_the_udev_rules() {
    let found = [listed("CMSIS-DAP", "c251:f002:X1", false)];
    let error = choose_probe(&found, None).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ProbeError::PermissionDenied { .. }),
        "{message}"
    );
    assert!(message.contains("CMSIS-DAP (c251:f002:X1)"), "{message}");
    assert!(message.contains("udev rules"), "{message}");
    assert!(message.contains(PROBE_SETUP_URL), "{message}");
    assert!(message.contains("unplug and replug"), "{message}");
    // Listed, marked.
    let line = found[0].to_string();
    assert!(line.starts_with("c251:f002:X1  CMSIS-DAP [test]"), "{line}");
    assert!(line.contains("no permission"), "{line}");
    assert_eq!(
        listed("J-Link", "1366:1015:1", true).to_string(),
        "1366:1015:1  J-Link [test]"
    );
}

#[test]
fn chips_are_found_by_any_part_of_their_name_or_family() {
    let names = |filter: &str| -> Vec<String> {
        chips(filter)
            .into_iter()
            .flat_map(|family| family.chips)
            .collect()
    };
    let nrf = names("NRF52840");
    assert!(nrf.contains(&"nRF52840_xxAA".to_owned()), "{nrf:?}");
    assert!(
        nrf.iter().all(|c| c.to_lowercase().contains("nrf52840")),
        "{nrf:?}"
    );
    let stm = names("stm32f411ce");
    assert!(stm.contains(&"STM32F411CEUx".to_owned()), "{stm:?}");
    assert!(names("no-such-chip-anywhere").is_empty());
    // Families come with their name; the generic cores are there too.
    let generic = chips("Cortex-M4");
    assert!(
        generic
            .iter()
            .any(|f| f.family == "Generic ARMv7E-M" && f.chips.contains(&"Cortex-M4".to_owned())),
        "{generic:?}"
    );
    assert!(chips("").len() > 100, "every family with an empty filter");
}

#[test]
fn chip_names_resolve_and_wrong_ones_say_how_to_find_the_right_one() {
    let registry = Registry::from_builtin_families();
    assert_eq!(
        resolve_chip(&registry, "nRF52840_xxAA").unwrap().name,
        "nRF52840_xxAA"
    );
    assert_eq!(
        resolve_chip(&registry, "STM32F411CEUx").unwrap().name,
        "STM32F411CEUx"
    );

    let error = resolve_chip(&registry, "nRF52840_xxZZ").unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown chip 'nRF52840_xxZZ': it is not in probe-rs's target list (see the names \
         that contain 'nRF52840')"
    );
    // The suggested filter finds the chip that was meant.
    let ProbeError::UnknownChip { filter, .. } = error else {
        unreachable!()
    };
    assert!(chips(&filter)
        .iter()
        .any(|f| f.chips.contains(&"nRF52840_xxAA".to_owned())));

    let error = resolve_chip(&registry, "STM32F411").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ProbeError::AmbiguousChip { .. }),
        "{message}"
    );
    assert!(message.contains("STM32F411CEUx"), "{message}");
    assert!(message.contains("give the full name"), "{message}");
}

#[test]
fn chip_filters_keep_the_part_number() {
    for (chip, filter) in [
        ("nRF52840_xxAA", "nRF52840"),
        ("STM32F411CEUx", "STM32F411"),
        ("STM32F401CCUx", "STM32F401"),
        ("RP2040", "RP2040"),
        ("ATSAMD21G18A", "ATSAMD21G18A"),
        ("esp32c3", "esp32c3"),
        ("_", "_"),
    ] {
        assert_eq!(chip_filter(chip), filter, "{chip}");
    }
}

fn context(under_reset: bool) -> ConnectContext {
    ConnectContext {
        chip: "nRF52840_xxAA".into(),
        probe: "J-Link (1366:1015:1)".into(),
        protocol: Some(Protocol::Swd),
        speed_khz: Some(4000),
        connect_under_reset: under_reset,
    }
}

#[test]
fn a_target_that_does_not_answer_suggests_connect_under_reset_and_a_lower_speed() {
    for error in [
        probe_rs::Error::Timeout,
        probe_rs::Error::Arm(ArmError::NoTargetResponse {
            source: Box::new(ArmError::Timeout),
        }),
        probe_rs::Error::Probe(DebugProbeError::TargetNotFound),
    ] {
        let mapped = connect_error(error, &context(false));
        let message = mapped.to_string();
        assert!(
            matches!(mapped, ProbeError::NotResponding { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(
                "the target does not respond (nRF52840_xxAA through J-Link (1366:1015:1), SWD at 4000 kHz)"
            ),
            "{message}"
        );
        assert!(message.contains("try connecting under reset"), "{message}");
        assert!(message.contains("1000 kHz"), "{message}");
    }
    // Already under reset: the reset wire is the suspect.
    let under_reset = probe_rs::Error::Other(
        "Timeout while attaching to target under reset. This can happen if ...".into(),
    );
    let message = connect_error(under_reset, &context(true)).to_string();
    assert!(
        message.contains("connecting under reset needs the probe's nRESET wired"),
        "{message}"
    );
    let defaults = ConnectContext {
        protocol: None,
        speed_khz: None,
        ..context(false)
    };
    let message = connect_error(probe_rs::Error::Timeout, &defaults).to_string();
    assert!(
        message.contains("the probe's default protocol at the probe's default speed"),
        "{message}"
    );
}

#[test]
fn connect_errors_that_name_their_fix() {
    let message = connect_error(
        probe_rs::Error::Probe(DebugProbeError::UnsupportedProtocol(WireProtocol::Jtag)),
        &ConnectContext {
            protocol: Some(Protocol::Jtag),
            ..context(false)
        },
    )
    .to_string();
    assert_eq!(
        message,
        "the debug probe J-Link (1366:1015:1) does not support jtag: use the probe's default protocol, or swd"
    );

    let message = connect_error(
        probe_rs::Error::Probe(DebugProbeError::UnsupportedSpeed(50_000)),
        &context(false),
    )
    .to_string();
    assert!(
        message.contains("cannot run at 50000 kHz: use the probe's default speed"),
        "{message}"
    );

    let message = connect_error(
        probe_rs::Error::MissingPermissions("erase all to unlock the chip".into()),
        &context(false),
    )
    .to_string();
    assert!(message.contains("the nRF52840_xxAA is locked"), "{message}");
    assert!(
        message.contains("only by erasing the whole chip"),
        "{message}"
    );

    let message = connect_error(
        probe_rs::Error::ChipNotFound(RegistryError::ChipNotFound("nRF52840_xxAA".into())),
        &context(false),
    )
    .to_string();
    assert!(
        message.contains("names that contain 'nRF52840'"),
        "{message}"
    );

    let unplugged = probe_rs::Error::Arm(ArmError::Probe(DebugProbeError::Usb(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "device disconnected",
    ))));
    let message = connect_error(unplugged, &context(false)).to_string();
    assert_eq!(
        message,
        "lost the debug probe J-Link (1366:1015:1) while connecting to the chip: is it still \
         plugged in? (device disconnected)"
    );

    let other = connect_error(
        probe_rs::Error::Other("something new".into()),
        &context(false),
    );
    assert_eq!(
        other.to_string(),
        "probe-rs failed while connecting to the chip: something new"
    );
}

#[test]
fn opening_a_probe_tells_permissions_from_a_busy_probe() {
    let denied = DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "Permission denied (os error 13)",
    )));
    let error = open_error(denied, "J-Link (1366:1015:1)");
    assert!(
        matches!(error, ProbeError::PermissionDenied { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("udev rules"), "{error}");

    let busy = DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::CouldNotOpen);
    let message = open_error(busy, "J-Link (1366:1015:1)").to_string();
    assert!(message.contains("another program may hold it"), "{message}");
    assert!(message.contains("udev rules are missing"), "{message}");

    let gone = DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::NotFound);
    let message = open_error(gone, "J-Link (1366:1015:1)").to_string();
    assert!(message.contains("is it still plugged in?"), "{message}");
}

#[test]
fn memory_errors_tell_a_lost_probe_from_a_silent_chip_and_a_bus_fault() {
    // Unplugged: the link is gone, the session ends.
    let unplugged = probe_rs::Error::Arm(ArmError::Probe(DebugProbeError::Usb(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "device disconnected",
    ))));
    let error = memory_error(unplugged, Access::Read, 0x2000_0000, 24);
    assert!(error.is_target_gone(), "{error}");
    assert!(matches!(error, MemoryError::Disconnected { .. }), "{error}");
    assert!(error.to_string().contains("still plugged in"), "{error}");

    // A chip that does not answer (a reset in progress, asleep): not gone, poll again.
    let error = memory_error(probe_rs::Error::Timeout, Access::Read, 0x2000_0000, 24);
    assert!(!error.is_target_gone(), "{error}");
    assert_eq!(
        error.to_string(),
        "no answer to the read of 24 bytes at 0x20000000: the chip does not answer (held in \
         reset, powered down, or asleep with its debug port off)"
    );

    // A bus fault: the address is wrong, not the link.
    let error = memory_error(
        probe_rs::Error::Arm(ArmError::OutOfBounds),
        Access::Write,
        0x6000_0000,
        4,
    );
    assert!(
        matches!(
            error,
            MemoryError::Access {
                access: Access::Write,
                address: 0x6000_0000,
                len: 4,
                ..
            }
        ),
        "{error}"
    );

    // Anything else is the transport's.
    let error = memory_error(probe_rs::Error::Other("odd".into()), Access::Read, 0, 1);
    assert!(matches!(error, MemoryError::Transport(_)), "{error}");
    assert!(!error.is_target_gone());
}

/// A session over probe-rs's fake probe with a mocked Cortex-M core: its memory reads as
/// zeros, its writes are accepted.
fn fake(options: &ProbeOptions) -> Result<ProbeMemory, ProbeError> {
    ProbeMemory::connect(
        FakeProbe::with_mocked_core().into_probe(),
        "fake probe".into(),
        &Registry::from_builtin_families(),
        options,
    )
}

#[test]
fn attaching_through_probe_rs_leaves_the_core_running() {
    let mut memory = fake(&ProbeOptions::new("Cortex-M4")).unwrap();
    assert_eq!(memory.chip(), "Cortex-M4");
    assert_eq!(memory.probe_name(), "fake probe");
    assert!(!memory.halts_in_batch());
    assert!(!memory.core_halted().unwrap(), "attaching halted the core");
    // Reads and 32-bit accesses go through probe-rs's core memory interface.
    assert_eq!(memory.read_u32(0x2000_0000).unwrap(), 0);
    memory.write_u32(0x2000_0004, 0x1234_5678).unwrap();
    let mut bytes = [0xff; 6];
    memory.read(0x2000_0001, &mut bytes).unwrap();
    assert_eq!(bytes, [0; 6]);
    assert!(!memory.core_halted().unwrap(), "reading halted the core");
    // The RTT reader runs over it: all zeros is no control block yet.
    let mut reader = RttReader::new(memory, RttOptions::at(0x2000_0000));
    assert_eq!(reader.poll(&mut Vec::new()).unwrap(), Poll::Waiting);
}

#[test]
fn a_core_the_chip_does_not_have_is_refused() {
    let error = fake(&ProbeOptions::new("Cortex-M4").core(1)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the Cortex-M4 has 1 core(s): core 1 does not exist (cores count from 0)"
    );
}

#[test]
fn an_unknown_chip_is_refused_before_the_probe_is_used() {
    let error = fake(&ProbeOptions::new("nRF99999_xxAA")).unwrap_err();
    assert!(matches!(error, ProbeError::UnknownChip { .. }), "{error}");
}

#[test]
fn a_reset_startup_leaves_the_core_running() {
    // probe-rs's fake probe cannot assert the reset line, so connecting under reset is left
    // to hardware; a reset through the debug port it does.
    let mut memory = fake(&ProbeOptions::new("Cortex-M4").startup(Startup::Reset)).unwrap();
    assert!(!memory.core_halted().unwrap(), "reset, then halted");
}
