//! How to reach the target: chip, probe, wire protocol, speed, reset. Pure data, with the
//! parsing a command line needs (`FromStr` for [`ProbeSelector`] and [`Protocol`]).

use std::fmt;
use std::str::FromStr;

/// Which debug probe to use: `VID:PID[:SERIAL]`, as probe-rs's own tools take it.
///
/// VID and PID are hexadecimal (`1366:1015`, a SEGGER J-Link). A multi-channel FTDI probe
/// names its channel after the PID (`0403:6010-1`). The serial number picks one of several
/// probes of the same kind; everything after the second `:` is the serial, colons included.
/// An empty serial (`VID:PID:`) selects a probe that has none. [`list_probes`](super::list_probes) gives
/// every probe it sees in this form.
///
/// ```
/// use rtt_tunnel_host::probe::ProbeSelector;
///
/// let selector: ProbeSelector = "0483:374b:066DFF555051".parse().unwrap();
/// assert_eq!((selector.vendor_id, selector.product_id), (0x0483, 0x374b));
/// assert_eq!(selector.serial_number.as_deref(), Some("066DFF555051"));
/// assert_eq!(selector.to_string(), "0483:374b:066DFF555051");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeSelector {
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// USB interface (the channel of a multi-channel FTDI probe).
    pub interface: Option<u8>,
    /// Serial number: `None` matches any, `Some("")` only a probe without one.
    pub serial_number: Option<String>,
}

impl ProbeSelector {
    /// A selector for `vendor_id:product_id`, any serial number.
    pub fn new(vendor_id: u16, product_id: u16) -> Self {
        ProbeSelector {
            vendor_id,
            product_id,
            interface: None,
            serial_number: None,
        }
    }

    /// The same selector, narrowed to one serial number.
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial_number = Some(serial.into());
        self
    }

    /// Whether a probe that `found` describes fully (its own ids, interface and serial) is one
    /// this selector picks.
    pub fn matches(&self, found: &ProbeSelector) -> bool {
        let serial = match (&self.serial_number, &found.serial_number) {
            (None, _) => true,
            (Some(wanted), Some(serial)) => wanted == serial,
            (Some(wanted), None) => wanted.is_empty(),
        };
        self.vendor_id == found.vendor_id
            && self.product_id == found.product_id
            && self
                .interface
                .is_none_or(|interface| found.interface == Some(interface))
            && serial
    }
}

impl fmt::Display for ProbeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor_id, self.product_id)?;
        if let Some(interface) = self.interface {
            write!(f, "-{interface}")?;
        }
        if let Some(serial) = &self.serial_number {
            write!(f, ":{serial}")?;
        }
        Ok(())
    }
}

/// Why a string is not a [`ProbeSelector`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid probe selector '{input}': {reason}; expected VID:PID[:SERIAL] with VID and PID in hex, like 1366:1015 or 0483:374b:066DFF555051)")]
pub struct SelectorError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for ProbeSelector {
    type Err = SelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| SelectorError {
            input: input.to_owned(),
            reason,
        };
        let mut parts = input.trim().splitn(3, ':');
        let vendor = parts.next().unwrap_or_default();
        let Some(product) = parts.next() else {
            return Err(error("no ':' between VID and PID".into()));
        };
        let serial_number = parts.next().map(str::to_owned);
        let (product, interface) = match product.split_once('-') {
            None => (product, None),
            Some((product, "")) => (product, None),
            Some((product, interface)) => {
                let interface = interface
                    .parse::<u8>()
                    .map_err(|_| error(format!("interface '{interface}' is not a number")))?;
                (product, Some(interface))
            }
        };
        let hex = |what: &str, text: &str| {
            let digits = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            if digits.is_empty() || digits.len() > 4 {
                return Err(error(format!("{what} '{text}' is not 1 to 4 hex digits")));
            }
            u16::from_str_radix(digits, 16)
                .map_err(|_| error(format!("{what} '{text}' is not hexadecimal")))
        };
        Ok(ProbeSelector {
            vendor_id: hex("VID", vendor)?,
            product_id: hex("PID", product)?,
            interface,
            serial_number,
        })
    }
}

impl From<&ProbeSelector> for probe_rs::probe::DebugProbeSelector {
    fn from(selector: &ProbeSelector) -> Self {
        probe_rs::probe::DebugProbeSelector {
            vendor_id: selector.vendor_id,
            product_id: selector.product_id,
            interface: selector.interface,
            serial_number: selector.serial_number.clone(),
        }
    }
}

impl From<&probe_rs::probe::DebugProbeInfo> for ProbeSelector {
    fn from(info: &probe_rs::probe::DebugProbeInfo) -> Self {
        ProbeSelector {
            vendor_id: info.vendor_id,
            product_id: info.product_id,
            interface: info.interface,
            serial_number: info.serial_number.clone(),
        }
    }
}

/// The wire protocol between probe and chip (`swd` or `jtag`). Without one, the probe
/// picks (SWD on every Cortex-M probe probe-rs drives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Serial Wire Debug: two wires, the usual choice for Cortex-M.
    Swd,
    /// JTAG.
    Jtag,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Swd => "swd",
            Protocol::Jtag => "jtag",
        })
    }
}

/// Why a string is not a [`Protocol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol '{0}': use swd or jtag")]
pub struct ProtocolError(pub String);

impl FromStr for Protocol {
    type Err = ProtocolError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "swd" => Ok(Protocol::Swd),
            "jtag" => Ok(Protocol::Jtag),
            _ => Err(ProtocolError(input.to_owned())),
        }
    }
}

impl From<Protocol> for probe_rs::probe::WireProtocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Swd => probe_rs::probe::WireProtocol::Swd,
            Protocol::Jtag => probe_rs::probe::WireProtocol::Jtag,
        }
    }
}

/// What happens to the firmware when the host attaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Startup {
    /// Attach to the firmware as it runs, without halting or resetting it (the default). The
    /// host joins mid-stream: ask the firmware to re-send its call sites and live spans
    /// ([`Request::ResendAll`](rtt_tunnel_protocol::Request::ResendAll)) to see spans that
    /// began before.
    #[default]
    Attach,
    /// Reset the chip and let it run, then attach: the host sees the boot from
    /// its first frame.
    Reset,
}

/// Everything [`ProbeMemory::open`](super::ProbeMemory::open) needs, as probe-rs's own tools
/// take it: the chip, the probe, the speed, the protocol, connecting under reset, and how to
/// start ([`Startup`]).
///
/// ```
/// use rtt_tunnel_host::probe::{ProbeOptions, Protocol, Startup};
///
/// let options = ProbeOptions::new("nRF52840_xxAA")
///     .probe("1366:1015".parse().unwrap())
///     .protocol(Protocol::Swd)
///     .speed_khz(4000)
///     .startup(Startup::Reset);
/// assert_eq!(options.chip, "nRF52840_xxAA");
/// assert!(!options.connect_under_reset);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    /// The chip, by a name of probe-rs's built-in target list ([`chips`](super::chips)).
    pub chip: String,
    /// Which probe; `None`: the only one plugged in.
    pub probe: Option<ProbeSelector>,
    /// The wire protocol; `None`: the probe's default.
    pub protocol: Option<Protocol>,
    /// Clock of the wire protocol in kHz; `None`: the probe's default.
    pub speed_khz: Option<u32>,
    /// Hold the chip's reset line while connecting (for firmware that disables the debug pins
    /// or sleeps too deeply to answer). The chip then starts anew: it has been reset.
    pub connect_under_reset: bool,
    /// Attach to the running firmware, or reset it first.
    pub startup: Startup,
    /// The core to read through (0, the only one on single-core chips).
    pub core: usize,
}

impl ProbeOptions {
    /// Options for `chip`: the only probe, its defaults, attach without reset, core 0.
    pub fn new(chip: impl Into<String>) -> Self {
        ProbeOptions {
            chip: chip.into(),
            probe: None,
            protocol: None,
            speed_khz: None,
            connect_under_reset: false,
            startup: Startup::Attach,
            core: 0,
        }
    }

    /// Uses the probe `selector` picks.
    pub fn probe(mut self, selector: ProbeSelector) -> Self {
        self.probe = Some(selector);
        self
    }

    /// Uses this wire protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Clocks the wire protocol at `khz`.
    pub fn speed_khz(mut self, khz: u32) -> Self {
        self.speed_khz = Some(khz);
        self
    }

    /// Connects under reset (or not).
    pub fn connect_under_reset(mut self, on: bool) -> Self {
        self.connect_under_reset = on;
        self
    }

    /// Attaches to the running firmware or resets it first.
    pub fn startup(mut self, startup: Startup) -> Self {
        self.startup = startup;
        self
    }

    /// Reads through core `index`.
    pub fn core(mut self, index: usize) -> Self {
        self.core = index;
        self
    }

    /// What the options ask of probe-rs: how to connect, and what to do with the core after.
    pub(crate) fn plan(&self) -> Plan {
        Plan {
            under_reset: self.connect_under_reset,
            after: match (self.connect_under_reset, self.startup) {
                // Connecting under reset leaves the core halted at its reset vector (probe-rs
                // sets a reset catch): it has been reset already, let it run.
                (true, _) => AfterConnect::Run,
                (false, Startup::Reset) => AfterConnect::ResetAndRun,
                (false, Startup::Attach) => AfterConnect::Nothing,
            },
        }
    }
}

/// How [`ProbeOptions`] translate into probe-rs calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// `Probe::attach_under_reset` rather than `Probe::attach`.
    pub under_reset: bool,
    /// What to do with the core once the session is up.
    pub after: AfterConnect,
}

/// What to do with the core once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterConnect {
    /// Leave it as it is (running, normally).
    Nothing,
    /// `Core::reset`: reset, then run.
    ResetAndRun,
    /// `Core::run`: the core is halted at its reset vector after a connect under reset.
    Run,
}
