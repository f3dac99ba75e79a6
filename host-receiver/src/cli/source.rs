//! Where the target is, as the command line says it: turned into the library's
//! [`Target`] and [`Locate`], which the library opens (`rtt_tunnel_host::target`).

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use rtt_tunnel_host::elf::FirmwareElf;
use rtt_tunnel_host::qemu::{QemuOptions, QemuOutput};
use rtt_tunnel_host::rtt::RttOptions;
use rtt_tunnel_host::target::{self, Locate, Target};

use super::args::{ProbeArg, ProbeArgs, ProtocolArg, SourceArgs};

/// The machine when the ELF's path names no known thumb target (the board table's default).
pub const DEFAULT_MACHINE: &str = rtt_tunnel_boards::DEFAULT.machine;

/// How to reach a chip through a debug probe: `--chip` and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The chip's name in probe-rs's target list.
    pub chip: String,
    /// Which probe (`None`: the only one).
    pub probe: Option<ProbeArg>,
    /// The wire's clock in kHz.
    pub speed_khz: Option<u32>,
    /// The wire protocol.
    pub protocol: Option<ProtocolArg>,
    /// Hold the chip in reset while connecting.
    pub connect_under_reset: bool,
    /// Reset and run the chip before attaching.
    pub reset: bool,
}

/// A target to drain, as the command line describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Firmware run in `qemu-system-arm`, drained through its gdbstub.
    Qemu {
        /// The firmware QEMU runs.
        kernel: PathBuf,
        /// The QEMU machine.
        machine: String,
        /// Where the control block is (the kernel itself unless `--elf` says otherwise).
        elf: PathBuf,
        /// The firmware's command line (`-append`).
        append: Option<String>,
    },
    /// A target behind a GDB server.
    Gdb {
        /// `host:port`.
        address: String,
        /// Where the control block is.
        locate: Locate,
    },
    /// A chip behind a debug probe, through probe-rs.
    Probe {
        /// How to reach it.
        target: ProbeTarget,
        /// Where the control block is.
        locate: Locate,
    },
}

impl Source {
    /// The source the arguments describe.
    pub fn from_args(args: &SourceArgs, probe: &ProbeArgs) -> Result<Self> {
        if let Some(kernel) = &args.qemu {
            let machine = match &args.machine {
                Some(machine) => machine.clone(),
                None => machine_from_path(kernel)
                    .unwrap_or(DEFAULT_MACHINE)
                    .to_owned(),
            };
            if !args.ram.is_empty() {
                bail!("--ram is for --gdb or --chip without an ELF: with --qemu the ELF locates the RTT control block");
            }
            return Ok(Source::Qemu {
                kernel: kernel.clone(),
                machine,
                elf: args.elf.clone().unwrap_or_else(|| kernel.clone()),
                append: args.append.clone(),
            });
        }
        if let Some(address) = &args.gdb {
            let locate = match (&args.elf, args.ram.is_empty()) {
                (Some(elf), _) => Locate::Elf(elf.clone()),
                (None, false) => Locate::Ram(args.ram.clone()),
                (None, true) => bail!(
                    "--gdb needs to know where the RTT control block is: pass --elf FILE (the \
                     firmware running on the target; its `_SEGGER_RTT` symbol gives the address) \
                     or --ram START..END (the target's RAM, to search)"
                ),
            };
            return Ok(Source::Gdb {
                address: address.clone(),
                locate,
            });
        }
        if let Some(chip) = &args.chip {
            let locate = match (&args.elf, args.ram.is_empty()) {
                (Some(elf), _) => Locate::Elf(elf.clone()),
                (None, false) => Locate::Ram(args.ram.clone()),
                (None, true) => Locate::ChipRam,
            };
            return Ok(Source::Probe {
                target: ProbeTarget {
                    chip: chip.clone(),
                    probe: probe.probe.clone(),
                    speed_khz: probe.speed,
                    protocol: probe.protocol,
                    connect_under_reset: probe.connect_under_reset,
                    reset: probe.reset,
                },
                locate,
            });
        }
        bail!("no target: pass --qemu ELF, --gdb HOST:PORT, --chip CHIP or --serial PORT")
    }

    /// One line for the user: what is drained.
    pub fn describe(&self) -> String {
        match self {
            Source::Qemu {
                kernel, machine, ..
            } => format!("running {} in QEMU ({machine})", kernel.display()),
            Source::Gdb { address, .. } => format!("attaching through the GDB server at {address}"),
            Source::Probe { target, .. } => {
                let how = match (target.connect_under_reset, target.reset) {
                    (true, _) => "connecting under reset",
                    (false, true) => "resetting it",
                    (false, false) => "attaching to the running firmware",
                };
                format!("{how} on the {} through a debug probe", target.chip)
            }
        }
    }

    /// The firmware ELF, when the command line names one.
    pub fn elf(&self) -> Option<&Path> {
        match self {
            Source::Qemu { elf, .. } => Some(elf),
            Source::Gdb { locate, .. } | Source::Probe { locate, .. } => match locate {
                Locate::Elf(path) => Some(path),
                Locate::Ram(_) | Locate::ChipRam => None,
            },
        }
    }

    /// Where the control block is.
    pub fn locate(&self) -> Locate {
        match self {
            Source::Qemu { elf, .. } => Locate::Elf(elf.clone()),
            Source::Gdb { locate, .. } | Source::Probe { locate, .. } => locate.clone(),
        }
    }
}

/// The QEMU machine for a firmware target triple, from the one board table
/// (`rtt-tunnel-boards`).
pub fn machine_for_target(target: &str) -> Option<&'static str> {
    rtt_tunnel_boards::for_target(target).map(|board| board.machine)
}

/// The QEMU machine for the thumb target named in `path` (`target/<triple>/release/...`).
pub fn machine_from_path(path: &Path) -> Option<&'static str> {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(machine_for_target)
}

/// The RTT options for the control block `locate` describes, `chip_ram` being the chip's RAM
/// for [`Locate::ChipRam`]. For [`Locate::Elf`], `elf` is that firmware ELF when the caller
/// read it already (else it is read here); says on standard error when it has no
/// `_SEGGER_RTT` symbol (its RAM is searched).
pub fn rtt_options(
    elf: Option<&FirmwareElf>,
    locate: &Locate,
    chip_ram: &[Range<u64>],
) -> Result<RttOptions> {
    let (Locate::Elf(_), Some(elf)) = (locate, elf) else {
        return Ok(target::rtt_options(locate, chip_ram)?);
    };
    if elf.rtt_control_block().is_none() {
        eprintln!(
            "host-receiver: {} has no `_SEGGER_RTT` symbol (stripped?); searching its RAM for \
             the RTT control block",
            elf.path().display()
        );
    }
    Ok(RttOptions::from_elf(elf)?)
}

impl Source {
    /// What the library opens for this source.
    pub fn target(&self) -> Result<Target> {
        match self {
            Source::Qemu {
                kernel,
                machine,
                append,
                ..
            } => {
                let mut options = QemuOptions::new(kernel)
                    .machine(machine.clone())
                    .output(QemuOutput::Capture);
                if let Some(append) = append {
                    options.extra_args = vec!["-append".into(), append.clone()];
                }
                Ok(Target::Qemu(options))
            }
            Source::Gdb { address, .. } => Ok(Target::Gdb(address.clone())),
            Source::Probe { target, .. } => probe_target(target),
        }
    }
}

/// The probe options `target` asks for.
#[cfg(feature = "probe-rs")]
pub(super) fn probe_target(target: &ProbeTarget) -> Result<Target> {
    use rtt_tunnel_host::probe::{ProbeOptions, Protocol, Startup};

    let mut options = ProbeOptions::new(target.chip.clone())
        .connect_under_reset(target.connect_under_reset)
        .startup(if target.reset {
            Startup::Reset
        } else {
            Startup::Attach
        });
    if let Some(probe) = &target.probe {
        options = options.probe(probe.clone());
    }
    if let Some(khz) = target.speed_khz {
        options = options.speed_khz(khz);
    }
    if let Some(protocol) = target.protocol {
        options = options.protocol(match protocol {
            ProtocolArg::Swd => Protocol::Swd,
            ProtocolArg::Jtag => Protocol::Jtag,
        });
    }
    Ok(Target::Probe(options))
}

/// Without probe-rs there is no probe to open.
#[cfg(not(feature = "probe-rs"))]
fn probe_target(_target: &ProbeTarget) -> Result<Target> {
    bail!("this host-receiver was built without probe-rs (its default `probe-rs` feature): build it with default features for --chip, or reach the target through a GDB server (--gdb)")
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one RAM range is meant
mod tests {
    use super::*;

    #[test]
    fn machines_for_the_boards_targets() {
        for board in &rtt_tunnel_boards::BOARDS {
            assert_eq!(machine_for_target(board.target), Some(board.machine));
            for target in board.also {
                assert_eq!(machine_for_target(target), Some(board.machine));
            }
        }
        assert_eq!(machine_for_target("thumbv6m-none-eabi"), None);
    }

    fn args(qemu: Option<&str>, gdb: Option<&str>) -> SourceArgs {
        SourceArgs {
            qemu: qemu.map(PathBuf::from),
            machine: None,
            append: None,
            gdb: gdb.map(String::from),
            chip: None,
            serial: None,
            baud: 115_200,
            elf: None,
            ram: Vec::new(),
        }
    }

    fn no_probe() -> ProbeArgs {
        ProbeArgs {
            probe: None,
            speed: None,
            protocol: None,
            connect_under_reset: false,
            reset: false,
        }
    }

    #[test]
    fn the_machine_comes_from_the_path() {
        let source = Source::from_args(
            &args(
                Some("boards/target/thumbv7em-none-eabihf/release/demo"),
                None,
            ),
            &no_probe(),
        )
        .unwrap();
        assert_eq!(
            source,
            Source::Qemu {
                kernel: "boards/target/thumbv7em-none-eabihf/release/demo".into(),
                machine: "mps2-an386".into(),
                elf: "boards/target/thumbv7em-none-eabihf/release/demo".into(),
                append: None,
            }
        );
        assert_eq!(
            source.elf(),
            Some(Path::new(
                "boards/target/thumbv7em-none-eabihf/release/demo"
            ))
        );
        let Source::Qemu { machine, .. } =
            Source::from_args(&args(Some("fw.elf"), None), &no_probe()).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(machine, DEFAULT_MACHINE);
        let mut explicit = args(Some("target/thumbv8m.main-none-eabihf/debug/x"), None);
        assert_eq!(
            machine_from_path(explicit.qemu.as_ref().unwrap()),
            Some("mps2-an505")
        );
        explicit.machine = Some("lm3s6965evb".into());
        explicit.elf = Some("other.elf".into());
        explicit.append = Some("nested".into());
        let Source::Qemu {
            machine,
            elf,
            append,
            ..
        } = Source::from_args(&explicit, &no_probe()).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(
            (machine.as_str(), elf, append.as_deref()),
            ("lm3s6965evb", "other.elf".into(), Some("nested"))
        );
    }

    #[test]
    fn gdb_needs_an_elf_or_ram() {
        let error = Source::from_args(&args(None, Some("h:1")), &no_probe()).unwrap_err();
        assert!(error.to_string().contains("pass --elf FILE"), "{error}");
        let mut with_ram = args(None, Some("h:1"));
        with_ram.ram = vec![0x2000_0000..0x2000_1000];
        let source = Source::from_args(&with_ram, &no_probe()).unwrap();
        assert_eq!(
            source,
            Source::Gdb {
                address: "h:1".into(),
                locate: Locate::Ram(vec![0x2000_0000..0x2000_1000])
            }
        );
        assert_eq!(source.elf(), None);
    }

    #[test]
    fn a_chip_without_elf_or_ram_searches_its_own_ram() {
        let mut chip = args(None, None);
        chip.chip = Some("nRF52840_xxAA".into());
        let mut probe = no_probe();
        probe.reset = true;
        probe.speed = Some(1000);
        let source = Source::from_args(&chip, &probe).unwrap();
        let Source::Probe { target, locate } = &source else {
            panic!("{source:?}")
        };
        assert_eq!(*locate, Locate::ChipRam);
        assert_eq!(target.chip, "nRF52840_xxAA");
        assert!(target.reset && !target.connect_under_reset);
        assert_eq!(target.speed_khz, Some(1000));
        assert_eq!(
            source.describe(),
            "resetting it on the nRF52840_xxAA through a debug probe"
        );
        let error = rtt_options(None, &Locate::ChipRam, &[]).unwrap_err();
        let message = super::super::report(&error);
        assert!(message.contains("pass --elf FILE"), "{message}");
        let options = rtt_options(None, &Locate::ChipRam, &[0x2000_0000..0x2004_0000]).unwrap();
        assert_eq!(options.ram, vec![0x2000_0000..0x2004_0000]);
        chip.elf = Some("fw.elf".into());
        let source = Source::from_args(&chip, &no_probe()).unwrap();
        assert_eq!(source.locate(), Locate::Elf("fw.elf".into()));
    }

    #[test]
    fn a_missing_elf_is_a_clear_error() {
        let error = rtt_options(None, &Locate::Elf("/nonexistent/fw.elf".into()), &[]).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/fw.elf"), "{error}");
    }
}
