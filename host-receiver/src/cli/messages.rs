//! The library's errors in host-receiver's words: the facts they carry, with the option or
//! command that fixes them. The library says what went wrong and what usually helps in its
//! own terms; only here do flags and subcommands appear.

use std::error::Error as StdError;

use rtt_tunnel_host::capture::CaptureError;
use rtt_tunnel_host::gdb::GdbError;
use rtt_tunnel_host::memory::MemoryError;
use rtt_tunnel_host::pipeline::SessionStats;
use rtt_tunnel_host::qemu::QemuError;
use rtt_tunnel_host::receiver::{leak_stats, Receiver};
use rtt_tunnel_host::rtt::RttError;
use rtt_tunnel_host::session::SessionError;
use rtt_tunnel_host::target::OpenError;
use rtt_tunnel_host::timeline::TimelineError;

/// The message for `error` when host-receiver words it its own way; `None`: the library's
/// message says it.
pub fn reword(error: &(dyn StdError + 'static)) -> Option<String> {
    // Errors that show another's message as their own.
    if let Some(error) = error.downcast_ref::<OpenError>() {
        return match error {
            OpenError::Qemu(inner) => reword(inner),
            OpenError::Gdb(inner) => reword(inner),
            #[cfg(feature = "probe-rs")]
            OpenError::Probe(inner) => reword(inner),
            OpenError::Rtt(inner) => reword(inner),
            OpenError::NoChipRam => Some(
                "probe-rs knows no RAM of this chip to search for the RTT control block: pass \
                 --elf FILE or --ram START..END"
                    .to_owned(),
            ),
            _ => None,
        };
    }
    if let Some(SessionError::Rtt(inner)) = error.downcast_ref::<SessionError>() {
        return reword(inner);
    }
    if let Some(RttError::Memory(MemoryError::Transport(inner))) = error.downcast_ref::<RttError>()
    {
        return reword(inner.as_ref());
    }
    if let Some(error) = error.downcast_ref::<RttError>() {
        return rtt(error);
    }
    if let Some(error) = error.downcast_ref::<CaptureError>() {
        return capture(error);
    }
    if let Some(error) = error.downcast_ref::<TimelineError>() {
        return Some(timeline(error));
    }
    if let Some(error) = error.downcast_ref::<QemuError>() {
        return qemu(error);
    }
    if let Some(error) = error.downcast_ref::<GdbError>() {
        return gdb(error);
    }
    #[cfg(feature = "probe-rs")]
    if let Some(error) = error.downcast_ref::<rtt_tunnel_host::probe::ProbeError>() {
        return probe::reword(error);
    }
    None
}

/// Before the receiver closes what the stream left open: says how much, when anything.
pub fn end_of_stream(receiver: &Receiver) {
    let (spans, entered) = (receiver.span_count(), receiver.entered().len());
    if spans > 0 {
        eprintln!(
            "host-receiver: the stream ended with {spans} spans of the target alive, {entered} \
             of them entered: exited and closed on the host"
        );
    }
}

/// After the summary: the bounds that were reached, with the option that raises each.
pub fn bounds(stats: &SessionStats) {
    let l = &stats.limits;
    let mut lines = Vec::new();
    if l.spans_refused > 0 {
        lines.push(format!(
            "{} new spans refused: {} were alive (--max-spans N raises the bound)",
            l.spans_refused, l.spans_peak
        ));
    }
    if l.entries_refused > 0 || l.live_spans_refused > 0 {
        lines.push(format!(
            "{} span entries refused ({} live spans claiming too many): {} were entered \
             (--max-depth N raises the bound)",
            l.entries_refused, l.live_spans_refused, l.entered_peak
        ));
    }
    if l.call_sites_refused > 0 {
        lines.push(format!(
            "{} call sites refused (--max-call-sites N raises the bound)",
            l.call_sites_refused
        ));
    }
    if l.arena_refused > 0 {
        let leak = leak_stats();
        lines.push(format!(
            "{} call sites refused: their metadata would take more than the {} MiB allowed \
             ({} bytes kept for {} call sites; --call-site-memory MIB raises the bound)",
            l.arena_refused,
            leak.limit >> 20,
            leak.leaked_bytes,
            leak.call_sites
        ));
    }
    if l.firmware_dropped > 0 || l.call_sites_not_persisted > 0 {
        lines.push(format!(
            "call sites of {} firmware builds forgotten, {} not kept: the target announced \
             more builds than the receiver keeps",
            l.firmware_dropped, l.call_sites_not_persisted
        ));
    }
    for line in lines {
        eprintln!("host-receiver: bound reached: {line}");
    }
}

fn rtt(error: &RttError) -> Option<String> {
    match error {
        RttError::NotFound { searched, .. } if searched.starts_with("in RAM") => Some(format!(
            "no RTT control block found {searched}: is the sender initialised (has the \
             firmware run its rtt_init! yet)? pass --elf so the `_SEGGER_RTT` symbol gives its \
             address"
        )),
        RttError::Ambiguous { addresses } => Some(format!(
            "{} RTT control blocks found in RAM (at {}): pass --elf so the `_SEGGER_RTT` symbol \
             picks the right one",
            addresses.len(),
            addresses
                .iter()
                .map(|a| format!("{a:#010x}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        RttError::NoDownChannel => Some(
            "no RTT down channel was selected: select one (--down-channel NAME|INDEX) to send \
             to the target"
                .to_owned(),
        ),
        _ => None,
    }
}

fn capture(error: &CaptureError) -> Option<String> {
    match error {
        CaptureError::NotACapture { .. } => Some(format!(
            "{error}: record one with `host-receiver --record FILE`"
        )),
        CaptureError::UnsupportedFormat { .. } => Some(format!(
            "{error}: replay it with the host-receiver that recorded it"
        )),
        CaptureError::ProtocolVersion { .. } => Some(format!(
            "{error}: replay it with the host-receiver of that rtt-tunnel release"
        )),
        _ => None,
    }
}

fn qemu(error: &QemuError) -> Option<String> {
    match error {
        QemuError::NotInstalled { program, .. } => Some(format!(
            "`{program}` was not found: install QEMU's Arm system emulator (Debian/Ubuntu: \
             `sudo apt-get install --no-install-recommends qemu-system-arm`)"
        )),
        QemuError::ElfMissing { .. } => Some(format!(
            "{error}: build the firmware first (for this repository's boards: cargo build \
             --release --manifest-path boards/Cargo.toml --target <thumb target>)"
        )),
        _ => None,
    }
}

fn gdb(error: &GdbError) -> Option<String> {
    match error {
        GdbError::Connect { .. } => Some(format!("{error} (--gdb HOST:PORT)")),
        _ => None,
    }
}

#[cfg(feature = "probe-rs")]
mod probe {
    use rtt_tunnel_host::probe::{ListedProbe, ProbeError, Protocol};

    /// `name (--probe SELECTOR)`, one per probe; `none` for none.
    fn summary(probes: &[ListedProbe]) -> String {
        if probes.is_empty() {
            return "none".into();
        }
        probes
            .iter()
            .map(|p| format!("{} (--probe {})", p.name, p.selector))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn reword(error: &ProbeError) -> Option<String> {
        Some(match error {
            ProbeError::NoProbe => {
                format!("{error}. `host-receiver list` shows the probes this host sees")
            }
            ProbeError::NoMatchingProbe { wanted, found } => format!(
                "no debug probe matches --probe {wanted}; found: {}. `host-receiver list` \
                 shows them as VID:PID:SERIAL",
                summary(found)
            ),
            ProbeError::SeveralProbes { probes } => format!(
                "{} debug probes found: pick one with --probe VID:PID[:SERIAL]: {}",
                probes.len(),
                summary(probes)
            ),
            ProbeError::UnknownChip { chip, filter } => format!(
                "unknown chip '{chip}': `host-receiver chips {filter}` lists the chip names \
                 probe-rs knows that contain '{filter}'"
            ),
            ProbeError::AmbiguousChip { chip, candidates } => format!(
                "the chip name '{chip}' matches several chips ({candidates}): give the full \
                 name, `host-receiver chips {chip}` lists them"
            ),
            ProbeError::UnsupportedProtocol { probe, protocol } => {
                let other = match protocol {
                    Protocol::Swd => "jtag",
                    Protocol::Jtag => "swd",
                };
                format!(
                    "the debug probe {probe} does not support {protocol}: leave out \
                     --protocol, or use --protocol {other}"
                )
            }
            ProbeError::UnsupportedSpeed { probe, khz } => format!(
                "the debug probe {probe} cannot run at {khz} kHz: leave out --speed, or pick \
                 another (1000 kHz works with nearly every probe)"
            ),
            ProbeError::NotResponding {
                chip,
                probe,
                link,
                hint,
                ..
            } => {
                // The library's hint tells which case it is: connected under reset or not.
                let hint = if hint.starts_with("connecting under reset") {
                    "with --connect-under-reset the probe's nRESET must reach the chip's reset \
                     pin: check that wire, or leave the option out; a lower --speed such as \
                     --speed 1000 helps on long wires"
                } else {
                    "try --connect-under-reset (for firmware that turns the debug pins into \
                     GPIOs or sleeps too deeply to answer), or a lower --speed such as --speed \
                     1000"
                };
                format!(
                    "the target does not respond ({chip} through {probe}, {link}): check the \
                     wiring (SWDIO, SWCLK, GND, and nRESET for --connect-under-reset) and that \
                     the board is powered; {hint}"
                )
            }
            ProbeError::Locked { chip, detail } => format!(
                "the {chip} is locked (its debug access port or flash is read-protected): \
                 probe-rs can unlock it only by erasing it all, with `probe-rs erase --chip \
                 {chip} --allow-erase-all`; then flash the firmware again ({detail})"
            ),
            _ => return None,
        })
    }
}

/// A timeline that cannot be created or written, naming `--timeline`.
pub fn timeline(error: &TimelineError) -> String {
    match error {
        TimelineError::Create { path, source } => format!(
            "--timeline {}: cannot create the timeline file: {source} (is the folder there, \
             and writable?)",
            path.display()
        ),
        TimelineError::Write { what, source } => format!(
            "--timeline {what}: cannot write the timeline file: {source}; the timeline stops \
             there (the file holds what was written before), the terminal output goes on"
        ),
        other => other.to_string(),
    }
}

/// The final record of `--format json`: the summary as one JSON object on standard output,
/// after the events (`{"summary": {...}}`).
pub fn json_summary(stats: &SessionStats) {
    println!("{}", summary_record(stats));
}

/// The record [`json_summary`] prints.
fn summary_record(stats: &SessionStats) -> serde_json::Value {
    let r = &stats.reconciled;
    let c = &stats.target_capacity;
    serde_json::json!({
        "summary": {
            "bytes": stats.bytes,
            "frames": stats.frames,
            "dropped_by_target": stats.dropped_frames,
            "errors": {
                "frame": stats.frame_errors,
                "decode": stats.decode_errors,
                "receive": stats.receive_errors,
            },
            "resets": stats.target_resets,
            "left_open": { "spans": stats.spans_open, "entered": stats.spans_entered },
            "forced_by_resets": { "exits": r.reset_exits, "closes": r.reset_closes },
            "made_good_after_loss": {
                "resyncs": r.resyncs,
                "exits": r.late_exits,
                "closes": r.late_closes,
                "enters": r.late_enters,
            },
            "target_capacity": {
                "spans_untracked": c.spans_untracked,
                "enters_untracked": c.enters_untracked,
                "events_untracked": c.events_untracked,
                "values_dropped": c.values_dropped,
                "values_truncated": c.values_truncated,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_json_summary_says_what_is_left_forced_and_made_good() {
        let mut stats = SessionStats {
            frames: 12,
            dropped_frames: 33,
            spans_open: 2,
            spans_entered: 1,
            ..SessionStats::default()
        };
        stats.target_capacity.spans_untracked = 44;
        let record = summary_record(&stats);
        let summary = &record["summary"];
        assert_eq!(summary["frames"], 12);
        assert_eq!(summary["dropped_by_target"], 33);
        assert_eq!(summary["left_open"]["spans"], 2);
        assert_eq!(summary["left_open"]["entered"], 1);
        assert_eq!(summary["forced_by_resets"]["exits"], 0);
        assert_eq!(summary["made_good_after_loss"]["closes"], 0);
        assert_eq!(summary["target_capacity"]["spans_untracked"], 44);
    }

    #[test]
    fn library_errors_get_the_flags_that_fix_them() {
        let error = RttError::NoDownChannel;
        assert!(!error.to_string().contains("--"), "{error}");
        assert!(reword(&error)
            .unwrap()
            .contains("--down-channel NAME|INDEX"));

        let error = RttError::Ambiguous {
            addresses: vec![0x2000_0100, 0x2000_1800],
        };
        assert!(!error.to_string().contains("--"), "{error}");
        let message = reword(&error).unwrap();
        assert!(message.contains("0x20000100, 0x20001800"), "{message}");
        assert!(message.contains("pass --elf"), "{message}");

        // Also behind the session's transparent wrapper.
        let error = SessionError::Rtt(RttError::NoDownChannel);
        assert!(reword(&error).unwrap().contains("--down-channel"));

        let error = QemuError::ElfMissing {
            path: PathBuf::from("fw.elf"),
        };
        let message = reword(&error).unwrap();
        assert!(
            message.starts_with("the firmware ELF fw.elf does not exist: build"),
            "{message}"
        );

        // What the library says well enough is left alone.
        assert_eq!(reword(&RttError::Closed), None);
    }

    #[cfg(feature = "probe-rs")]
    #[test]
    fn probe_errors_name_the_options_and_subcommands() {
        use rtt_tunnel_host::probe::{ListedProbe, ProbeError, ProbeSelector};

        let jlink = ListedProbe {
            name: "J-Link".into(),
            kind: "test".into(),
            selector: "1366:1015:1".parse::<ProbeSelector>().unwrap(),
            accessible: true,
        };
        let error = ProbeError::NoMatchingProbe {
            wanted: "0483:374b".parse().unwrap(),
            found: vec![jlink],
        };
        assert_eq!(
            reword(&error).unwrap(),
            "no debug probe matches --probe 0483:374b; found: J-Link (--probe 1366:1015:1). \
             `host-receiver list` shows them as VID:PID:SERIAL"
        );
        let error = ProbeError::UnknownChip {
            chip: "nRF52840_xxZZ".into(),
            filter: "nRF52840".into(),
        };
        assert_eq!(
            reword(&error).unwrap(),
            "unknown chip 'nRF52840_xxZZ': `host-receiver chips nRF52840` lists the chip names \
             probe-rs knows that contain 'nRF52840'"
        );
        let error = ProbeError::Locked {
            chip: "nRF52840_xxAA".into(),
            detail: "erase all".into(),
        };
        assert!(reword(&error)
            .unwrap()
            .contains("`probe-rs erase --chip nRF52840_xxAA --allow-erase-all`"));
    }
}
