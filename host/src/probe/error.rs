//! probe-rs's errors, turned into errors that carry what went wrong and what usually fixes
//! it, in the library's terms (a tool maps them to its own options).

use std::error::Error as StdError;
use std::io;

use probe_rs::architecture::arm::ArmError;
use probe_rs::config::RegistryError;
use probe_rs::probe::{DebugProbeError, ProbeCreationError};

use crate::memory::{Access, MemoryError};

use super::catalog::ListedProbe;
use super::options::{ProbeSelector, Protocol};

/// Where probe-rs documents the udev rules and group membership a Linux user needs.
pub const PROBE_SETUP_URL: &str = "https://probe.rs/docs/getting-started/probe-setup/";

/// Why the host could not reach the target through a debug probe. Each message says what to
/// try.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// No probe is plugged in, or none this user may see.
    #[error("no debug probe found: plug one in (with a USB cable that carries data); on Linux, a probe that is plugged in but not found usually needs udev rules: see {PROBE_SETUP_URL}")]
    NoProbe,
    /// The probe selector matches none of the probes found.
    #[error("no debug probe matches {wanted}; found: {}", ListedProbe::summary(.found))]
    NoMatchingProbe {
        /// What the options asked for.
        wanted: ProbeSelector,
        /// The probes there are.
        found: Vec<ListedProbe>,
    },
    /// Several probes could be meant.
    #[error("{} debug probes found, and no selector picks one: {}", .probes.len(), ListedProbe::summary(.probes))]
    SeveralProbes {
        /// The candidates.
        probes: Vec<ListedProbe>,
    },
    /// The probe's USB device may not be opened by this user.
    #[error("no permission to open the debug probe {probe} (its USB device node): on Linux, install probe-rs's udev rules and join the group they name, see {PROBE_SETUP_URL}; then unplug and replug the probe")]
    PermissionDenied {
        /// The probe, as [`ListedProbe`] shows it.
        probe: String,
    },
    /// The probe is there but cannot be opened.
    #[error("cannot open the debug probe {probe}: another program may hold it (probe-rs, OpenOCD, a GDB server, an IDE: close it), or, on Linux, its udev rules are missing (see {PROBE_SETUP_URL}); unplugging and replugging the probe helps after either")]
    CannotOpen {
        /// The probe.
        probe: String,
        /// What probe-rs said.
        #[source]
        source: Box<probe_rs::probe::DebugProbeError>,
    },
    /// The chip name is not in probe-rs's target list.
    #[error("unknown chip '{chip}': it is not in probe-rs's target list (see the names that contain '{filter}')")]
    UnknownChip {
        /// The chip name asked for.
        chip: String,
        /// A shorter filter to search with ([`chips`](super::chips)).
        filter: String,
    },
    /// The chip name is the start of several chip names.
    #[error("the chip name '{chip}' matches several chips ({candidates}): give the full name")]
    AmbiguousChip {
        /// The chip name asked for.
        chip: String,
        /// Some of the names it matches.
        candidates: String,
    },
    /// The probe does not speak the protocol asked for.
    #[error("the debug probe {probe} does not support {protocol}: use the probe's default protocol, or {}", other_protocol(*.protocol))]
    UnsupportedProtocol {
        /// The probe.
        probe: String,
        /// The protocol asked for.
        protocol: Protocol,
    },
    /// The probe cannot clock the wire at the speed asked for.
    #[error("the debug probe {probe} cannot run at {khz} kHz: use the probe's default speed, or another (1000 kHz works with nearly every probe)")]
    UnsupportedSpeed {
        /// The probe.
        probe: String,
        /// The speed asked for.
        khz: u32,
    },
    /// No answer from the chip.
    #[error("the target does not respond ({chip} through {probe}, {link}): check the wiring (SWDIO, SWCLK, GND, and nRESET when connecting under reset) and that the board is powered; {hint}")]
    NotResponding {
        /// The chip.
        chip: String,
        /// The probe.
        probe: String,
        /// Protocol and speed.
        link: String,
        /// What to try, given the options used.
        hint: &'static str,
        /// What probe-rs said.
        #[source]
        source: Box<probe_rs::Error>,
    },
    /// The chip's debug access is locked.
    #[error("the {chip} is locked (its debug access port or flash is read-protected): probe-rs can unlock it only by erasing the whole chip; then flash the firmware again ({detail})")]
    Locked {
        /// The chip.
        chip: String,
        /// What probe-rs said.
        detail: String,
    },
    /// The core asked for is not on the chip.
    #[error("the {chip} has {cores} core(s): core {core} does not exist (cores count from 0)")]
    NoSuchCore {
        /// The chip.
        chip: String,
        /// The core asked for.
        core: usize,
        /// How many the chip has.
        cores: usize,
    },
    /// The probe went away while connecting.
    #[error("lost the debug probe {probe} while {during}: is it still plugged in? ({reason})")]
    Disconnected {
        /// The probe.
        probe: String,
        /// What the host was doing.
        during: &'static str,
        /// What the USB stack said.
        reason: String,
    },
    /// The firmware ELF cannot be flashed as it is (before the probe is touched).
    #[error("cannot flash {elf}: {reason}")]
    NotFlashable {
        /// The ELF's path.
        elf: String,
        /// What is wrong with it, and what to do.
        reason: String,
    },
    /// Flashing failed.
    #[error("flashing {elf} into the {chip} failed: {source}")]
    Flash {
        /// The ELF's path.
        elf: String,
        /// The chip.
        chip: String,
        /// What probe-rs said.
        #[source]
        source: Box<probe_rs::flashing::FlashError>,
    },
    /// Anything else probe-rs reported.
    #[error("probe-rs failed while {during}: {source}")]
    Probe {
        /// What the host was doing.
        during: &'static str,
        /// What probe-rs said.
        #[source]
        source: Box<probe_rs::Error>,
    },
}

fn other_protocol(protocol: Protocol) -> Protocol {
    match protocol {
        Protocol::Swd => Protocol::Jtag,
        Protocol::Jtag => Protocol::Swd,
    }
}

/// The errors of a chain, outermost first.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// The first error of `error`'s chain that is a `T`.
fn find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(error).find_map(|e| e.downcast_ref::<T>())
}

/// How the USB stack says a device is gone (nusb: `ConnectionAborted` for a disconnected
/// device, `NotConnected` for one that vanished before a transfer).
fn is_unplugged(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotFound
    )
}

/// Whether probe-rs's error means "the chip did not answer": a timeout, no response on the
/// debug port, or the probe's own "target not found".
fn is_no_response(error: &(dyn StdError + 'static)) -> bool {
    chain(error).any(|e| {
        matches!(
            e.downcast_ref::<probe_rs::Error>(),
            Some(probe_rs::Error::Timeout)
        ) || matches!(
            e.downcast_ref::<ArmError>(),
            Some(ArmError::Timeout | ArmError::NoTargetResponse { .. } | ArmError::DebugPort(_))
        ) || matches!(
            e.downcast_ref::<DebugProbeError>(),
            Some(DebugProbeError::Timeout | DebugProbeError::TargetNotFound)
        )
    })
}

/// What the host knew while connecting, for the messages.
#[derive(Debug, Clone)]
pub(crate) struct ConnectContext {
    pub chip: String,
    pub probe: String,
    pub protocol: Option<Protocol>,
    pub speed_khz: Option<u32>,
    pub connect_under_reset: bool,
}

impl ConnectContext {
    fn link(&self) -> String {
        let protocol = self.protocol.map_or_else(
            || "the probe's default protocol".to_owned(),
            |p| p.to_string().to_uppercase(),
        );
        match self.speed_khz {
            Some(khz) => format!("{protocol} at {khz} kHz"),
            None => format!("{protocol} at the probe's default speed"),
        }
    }

    fn hint(&self) -> &'static str {
        match (self.connect_under_reset, self.speed_khz) {
            (false, _) => "try connecting under reset (for firmware that turns the debug pins into GPIOs or sleeps too deeply to answer), or a lower speed such as 1000 kHz",
            (true, _) => "connecting under reset needs the probe's nRESET wired to the chip's reset pin: check that wire, or connect without reset; a lower speed such as 1000 kHz helps on long wires",
        }
    }
}

/// Maps an error from opening the probe.
pub(crate) fn open_error(error: DebugProbeError, probe: &str) -> ProbeError {
    let probe = probe.to_owned();
    let root: &(dyn StdError + 'static) = &error;
    if let Some(io) = find::<io::Error>(root) {
        if io.kind() == io::ErrorKind::PermissionDenied {
            return ProbeError::PermissionDenied { probe };
        }
    }
    match find::<ProbeCreationError>(root) {
        Some(ProbeCreationError::NotFound) => ProbeError::Disconnected {
            probe,
            during: "opening it",
            reason: "it is no longer listed".into(),
        },
        _ => ProbeError::CannotOpen {
            probe,
            source: Box::new(error),
        },
    }
}

/// Maps an error from configuring the probe (protocol, speed) or attaching to the chip.
pub(crate) fn connect_error(error: probe_rs::Error, context: &ConnectContext) -> ProbeError {
    let root: &(dyn StdError + 'static) = &error;
    if let Some(registry) = find::<RegistryError>(root) {
        if let Some(mapped) = chip_error(registry, &context.chip) {
            return mapped;
        }
    }
    if let Some(DebugProbeError::UnsupportedProtocol(_)) = find::<DebugProbeError>(root) {
        if let Some(protocol) = context.protocol {
            return ProbeError::UnsupportedProtocol {
                probe: context.probe.clone(),
                protocol,
            };
        }
    }
    if let Some(DebugProbeError::UnsupportedSpeed(khz)) = find::<DebugProbeError>(root) {
        return ProbeError::UnsupportedSpeed {
            probe: context.probe.clone(),
            khz: *khz,
        };
    }
    if let Some(io) = find::<io::Error>(root) {
        if is_unplugged(io) {
            return ProbeError::Disconnected {
                probe: context.probe.clone(),
                during: "connecting to the chip",
                reason: io.to_string(),
            };
        }
    }
    let locked = chain(root).find_map(|e| match e.downcast_ref::<probe_rs::Error>() {
        Some(probe_rs::Error::MissingPermissions(what)) => Some(what.clone()),
        _ => match e.downcast_ref::<ArmError>() {
            Some(ArmError::MissingPermissions(what)) => Some(what.clone()),
            _ => None,
        },
    });
    if let Some(detail) = locked {
        return ProbeError::Locked {
            chip: context.chip.clone(),
            detail,
        };
    }
    // probe-rs words a timeout under reset as an `Other` error of its own.
    let under_reset_timeout = matches!(&error, probe_rs::Error::Other(text) if text.contains("Timeout while attaching to target under reset"));
    if under_reset_timeout || is_no_response(root) {
        return ProbeError::NotResponding {
            chip: context.chip.clone(),
            probe: context.probe.clone(),
            link: context.link(),
            hint: context.hint(),
            source: Box::new(error),
        };
    }
    ProbeError::Probe {
        during: "connecting to the chip",
        source: Box::new(error),
    }
}

/// Maps a registry lookup failure for `chip`.
pub(crate) fn chip_error(error: &RegistryError, chip: &str) -> Option<ProbeError> {
    match error {
        RegistryError::ChipNotFound(_) => Some(ProbeError::UnknownChip {
            chip: chip.to_owned(),
            filter: chip_filter(chip),
        }),
        RegistryError::ChipNotUnique(_, candidates) => Some(ProbeError::AmbiguousChip {
            chip: chip.to_owned(),
            candidates: candidates.clone(),
        }),
        _ => None,
    }
}

/// A search filter for a chip name probe-rs does not know: its part number, without the
/// package and variant suffixes that are easy to get wrong (`nRF52840_xxAA` -> `nRF52840`,
/// `STM32F411CEUx` -> `STM32F411`): the name up to the first `_`, cut after the first run of
/// three or more digits that follows a letter.
pub(crate) fn chip_filter(chip: &str) -> String {
    let base = chip.split(['_', '-', ' ']).next().unwrap_or_default();
    let mut run = 0;
    for (i, byte) in base.bytes().enumerate() {
        if byte.is_ascii_digit() {
            run += 1;
            continue;
        }
        if run >= 3 && i > run {
            return base[..i].to_owned();
        }
        run = 0;
    }
    if base.is_empty() {
        chip.to_owned()
    } else {
        base.to_owned()
    }
}

/// A memory access the chip or the probe did not answer: transient (a reset in progress, a
/// chip that sleeps with its debug port off), so it is not [`MemoryError::is_target_gone`].
#[derive(Debug, thiserror::Error)]
#[error("no answer to the {access} of {len} bytes at {address:#010x}: {why}")]
pub struct NoAnswer {
    access: Access,
    address: u64,
    len: usize,
    why: &'static str,
    #[source]
    source: probe_rs::Error,
}

/// Maps an error from a memory access through probe-rs.
pub(crate) fn memory_error(
    error: probe_rs::Error,
    access: Access,
    address: u64,
    len: usize,
) -> MemoryError {
    let root: &(dyn StdError + 'static) = &error;
    let no_answer = |why, source| {
        MemoryError::transport(NoAnswer {
            access,
            address,
            len,
            why,
            source,
        })
    };
    if let Some(io) = find::<io::Error>(root) {
        if is_unplugged(io) {
            return MemoryError::Disconnected {
                reason: format!("the debug probe is gone ({io}): is it still plugged in?"),
            };
        }
        if io.kind() == io::ErrorKind::TimedOut {
            return no_answer("the debug probe did not answer in time over USB", error);
        }
    }
    if matches!(
        find::<ProbeCreationError>(root),
        Some(ProbeCreationError::NotFound | ProbeCreationError::CouldNotOpen)
    ) {
        return MemoryError::Disconnected {
            reason: "the debug probe is gone: is it still plugged in?".into(),
        };
    }
    if is_no_response(root) {
        return no_answer(
            "the chip does not answer (held in reset, powered down, or asleep with its debug port off)",
            error,
        );
    }
    let refused = matches!(&error, probe_rs::Error::MemoryNotAligned(_))
        || chain(root).any(|e| {
            matches!(
                e.downcast_ref::<ArmError>(),
                Some(
                    ArmError::AccessPort { .. }
                        | ArmError::OutOfBounds
                        | ArmError::MemoryNotAligned(_)
                        | ArmError::AddressOutOf32BitAddressSpace
                )
            )
        });
    if refused {
        return MemoryError::Access {
            access,
            address,
            len,
            reason: error.to_string(),
        };
    }
    MemoryError::transport(error)
}
