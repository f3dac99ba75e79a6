//! Where the target is: the sources the CLI can drain, and how each is opened and ended.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use host_receiver::elf::FirmwareElf;
use host_receiver::gdb::{GdbMemory, GdbOptions};
use host_receiver::qemu::{machine_for_target, Qemu, QemuError, QemuOptions, QemuOutput};
use host_receiver::rtt::RttOptions;

use super::args::SourceArgs;

/// The machine when the ELF's path names no known thumb target.
pub const DEFAULT_MACHINE: &str = "mps2-an385";

/// Where the control block is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locate {
    /// From this ELF's `_SEGGER_RTT` symbol (or its RAM, when it lacks the symbol).
    Elf(PathBuf),
    /// By searching these RAM ranges.
    Ram(Vec<Range<u64>>),
}

/// A target to drain, as the command line describes it. Issue 6 adds a probe (probe-rs) and a
/// recorded capture here.
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
    },
    /// A target behind a GDB server.
    Gdb {
        /// `host:port`.
        address: String,
        /// Where the control block is.
        locate: Locate,
    },
}

impl Source {
    /// The source the arguments describe.
    pub fn from_args(args: &SourceArgs) -> Result<Self> {
        if let Some(kernel) = &args.qemu {
            let machine = match &args.machine {
                Some(machine) => machine.clone(),
                None => machine_from_path(kernel)
                    .unwrap_or(DEFAULT_MACHINE)
                    .to_owned(),
            };
            if !args.ram.is_empty() {
                bail!("--ram is for --gdb without an ELF: with --qemu the ELF locates the RTT control block");
            }
            return Ok(Source::Qemu {
                kernel: kernel.clone(),
                machine,
                elf: args.elf.clone().unwrap_or_else(|| kernel.clone()),
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
        bail!("no target: pass --qemu ELF or --gdb HOST:PORT")
    }

    /// One line for the user: what is drained.
    pub fn describe(&self) -> String {
        match self {
            Source::Qemu {
                kernel, machine, ..
            } => format!("running {} in QEMU ({machine})", kernel.display()),
            Source::Gdb { address, .. } => format!("attaching through the GDB server at {address}"),
        }
    }
}

/// The QEMU machine for the thumb target named in `path` (`target/<triple>/release/...`).
pub fn machine_from_path(path: &Path) -> Option<&'static str> {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(machine_for_target)
}

/// The RTT options for the control block `locate` describes.
pub fn rtt_options(locate: &Locate) -> Result<RttOptions> {
    match locate {
        Locate::Ram(ranges) => Ok(RttOptions::scan(ranges.clone())),
        Locate::Elf(path) => {
            let elf = FirmwareElf::read(path)?;
            if elf.rtt_control_block().is_none() {
                eprintln!(
                    "host-receiver: {} has no `_SEGGER_RTT` symbol (stripped?); searching its \
                     RAM for the RTT control block",
                    path.display()
                );
            }
            Ok(RttOptions::from_elf(&elf)?)
        }
    }
}

/// An open source: the GDB link, and QEMU when we started it.
#[derive(Debug)]
pub struct Opened {
    /// The link the RTT reader reads through.
    pub gdb: GdbMemory,
    /// The emulator, killed when dropped.
    pub qemu: Option<Qemu>,
}

impl Opened {
    /// Starts QEMU or connects to the GDB server.
    pub fn open(source: &Source) -> Result<Self> {
        match source {
            Source::Qemu {
                kernel, machine, ..
            } => {
                let options = QemuOptions::new(kernel)
                    .machine(machine.clone())
                    .output(QemuOutput::Capture);
                let (qemu, gdb) = Qemu::launch(&options, GdbOptions::default())?;
                Ok(Opened {
                    gdb,
                    qemu: Some(qemu),
                })
            }
            Source::Gdb { address, .. } => {
                let gdb = GdbMemory::connect(address.as_str(), GdbOptions::default())
                    .with_context(|| format!("--gdb {address}"))?;
                Ok(Opened { gdb, qemu: None })
            }
        }
    }

    /// The firmware's exit code, once QEMU has ended (it ends right after the firmware's
    /// semihosting exit): `Ok(None)` without QEMU. A QEMU killed by a signal is an error.
    pub fn qemu_exit_code(&mut self) -> Result<Option<i32>, QemuError> {
        match &mut self.qemu {
            Some(qemu) => qemu.wait(Duration::from_secs(5)).map(Some),
            None => Ok(None),
        }
    }

    /// What the firmware printed on the semihosting console (QEMU's standard output).
    pub fn console(&self) -> String {
        self.qemu.as_ref().map(Qemu::stdout).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one RAM range is meant
mod tests {
    use super::*;

    fn args(qemu: Option<&str>, gdb: Option<&str>) -> SourceArgs {
        SourceArgs {
            qemu: qemu.map(PathBuf::from),
            machine: None,
            gdb: gdb.map(String::from),
            elf: None,
            ram: Vec::new(),
        }
    }

    #[test]
    fn the_machine_comes_from_the_path() {
        let source = Source::from_args(&args(
            Some("boards/target/thumbv7em-none-eabihf/release/demo"),
            None,
        ))
        .unwrap();
        assert_eq!(
            source,
            Source::Qemu {
                kernel: "boards/target/thumbv7em-none-eabihf/release/demo".into(),
                machine: "mps2-an386".into(),
                elf: "boards/target/thumbv7em-none-eabihf/release/demo".into(),
            }
        );
        let Source::Qemu { machine, .. } = Source::from_args(&args(Some("fw.elf"), None)).unwrap()
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
        let Source::Qemu { machine, elf, .. } = Source::from_args(&explicit).unwrap() else {
            unreachable!()
        };
        assert_eq!((machine.as_str(), elf), ("lm3s6965evb", "other.elf".into()));
    }

    #[test]
    fn gdb_needs_an_elf_or_ram() {
        let error = Source::from_args(&args(None, Some("h:1"))).unwrap_err();
        assert!(error.to_string().contains("pass --elf FILE"), "{error}");
        let mut with_ram = args(None, Some("h:1"));
        with_ram.ram = vec![0x2000_0000..0x2000_1000];
        assert_eq!(
            Source::from_args(&with_ram).unwrap(),
            Source::Gdb {
                address: "h:1".into(),
                locate: Locate::Ram(vec![0x2000_0000..0x2000_1000])
            }
        );
    }

    #[test]
    fn a_missing_elf_is_a_clear_error() {
        let error = rtt_options(&Locate::Elf("/nonexistent/fw.elf".into())).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/fw.elf"), "{error}");
    }
}
