//! [`TargetMemory`] over a probe-rs [`Session`]: reads a running core, never halts it.

use std::fmt;
use std::ops::Range;
use std::time::Instant;

use probe_rs::config::{Registry, TargetSelector};
use probe_rs::probe::list::Lister;
use probe_rs::probe::Probe;
use probe_rs::{Core, MemoryInterface, Permissions, Session};

use crate::memory::{Access, MemoryError, TargetMemory};

use super::catalog::{choose_probe, list_probes, resolve_chip};
use super::error::{connect_error, memory_error, open_error, ConnectContext, ProbeError};
use super::halt::{halt_action, HaltAction, STATUS_EVERY};
use super::options::{AfterConnect, ProbeOptions};

/// The core's Debug Halting Control and Status Register: the address an error of a status
/// query names.
const DHCSR: u64 = 0xE000_EDF0;

/// Target memory reached through a debug probe, with probe-rs.
///
/// On Cortex-M the probe reads and writes memory through the debug access port while the core
/// runs, so nothing here halts the target: [`halts_in_batch`](TargetMemory::halts_in_batch) is
/// false, batches are no-ops, and the RTT reader re-checks the control block after reading a
/// ring, since the target may reset between two reads. [`read_u32`](TargetMemory::read_u32)
/// and [`write_u32`](TargetMemory::write_u32) at aligned addresses are single 32-bit bus
/// accesses (the firmware never sees half of a ring offset); every write is flushed to the
/// probe before it returns.
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use rtt_tunnel_host::elf::FirmwareElf;
/// use rtt_tunnel_host::probe::{ProbeMemory, ProbeOptions, Startup};
/// use rtt_tunnel_host::receiver::Receiver;
/// use rtt_tunnel_host::rtt::{ChannelSelector, RttOptions, RttReader};
/// use rtt_tunnel_host::session::{RunOptions, Session};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let memory = ProbeMemory::open(&ProbeOptions::new("nRF52840_xxAA").startup(Startup::Reset))?;
/// // The ELF's `_SEGGER_RTT` symbol locates the control block; without an ELF, search the
/// // chip's RAM: `RttOptions::scan(memory.ram_ranges())`.
/// let elf = FirmwareElf::read("firmware.elf")?;
/// let options = RttOptions::from_elf(&elf)?.up_channel(ChannelSelector::name("rtt-tunnel"));
/// let mut session = Session::new(RttReader::new(memory, options), Receiver::default());
/// let stop = AtomicBool::new(false); // set it from a Ctrl-C handler
/// session.run(&stop, &RunOptions::default())?; // paced for a link that does not halt
/// session.close().restore?; // the channel is left non-blocking
/// # Ok(())
/// # }
/// ```
pub struct ProbeMemory {
    session: Session,
    core: usize,
    chip: String,
    probe: String,
    speed_khz: Option<u32>,
    ram: Vec<Range<u64>>,
    /// When the core's status was last read (for a semihosting request).
    status_read: Option<Instant>,
    /// The firmware's semihosting exit (or unserved request) was reported: the ring is read
    /// on, for the final drain, without asking again.
    ended: bool,
    /// What the firmware printed through semihosting (`SYS_WRITEC`, `SYS_WRITE0`).
    console: String,
}

impl fmt::Debug for ProbeMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeMemory")
            .field("chip", &self.chip)
            .field("probe", &self.probe)
            .field("core", &self.core)
            .field("speed_khz", &self.speed_khz)
            .finish_non_exhaustive()
    }
}

impl ProbeMemory {
    /// Finds the probe, connects to the chip, and starts the firmware as `options` say:
    /// attached as it runs ([`Startup::Attach`](super::Startup::Attach): not halted, not
    /// reset), or reset and running ([`Startup::Reset`](super::Startup::Reset)).
    ///
    /// The chip name is checked before any probe is touched. Errors say what to try: no probe,
    /// several probes, no permission on the probe's USB device, an unknown chip name, a chip
    /// that does not answer, a locked chip ([`ProbeError`]).
    pub fn open(options: &ProbeOptions) -> Result<Self, ProbeError> {
        let registry = Registry::from_builtin_families();
        resolve_chip(&registry, &options.chip)?;
        let found = list_probes();
        let chosen = choose_probe(&found, options.probe.as_ref())?;
        let name = format!("{} ({})", chosen.name, chosen.selector);
        let probe = Lister::new()
            .open(probe_rs::probe::DebugProbeSelector::from(&chosen.selector))
            .map_err(|error| open_error(error, &name))?;
        Self::connect(probe, name, &registry, options)
    }

    /// Connects through an opened `probe` (a real one from probe-rs's `Lister`, or probe-rs's
    /// `FakeProbe` in tests) as [`open`](Self::open) does once it has the probe. `name` is how
    /// messages call the probe.
    pub fn connect(
        mut probe: Probe,
        name: String,
        registry: &Registry,
        options: &ProbeOptions,
    ) -> Result<Self, ProbeError> {
        let target = resolve_chip(registry, &options.chip)?;
        let context = ConnectContext {
            chip: target.name.clone(),
            probe: name.clone(),
            protocol: options.protocol,
            speed_khz: options.speed_khz,
            connect_under_reset: options.connect_under_reset,
        };
        let fail = |error: probe_rs::Error| connect_error(error, &context);
        if let Some(protocol) = options.protocol {
            probe
                .select_protocol(protocol.into())
                .map_err(|e| fail(e.into()))?;
        }
        let speed_khz = match options.speed_khz {
            Some(khz) => Some(probe.set_speed(khz).map_err(|e| fail(e.into()))?),
            None => None,
        };
        let plan = options.plan();
        let target = TargetSelector::Specified(target);
        let session = if plan.under_reset {
            probe.attach_under_reset_with_registry(target, Permissions::new(), registry)
        } else {
            probe.attach_with_registry(target, Permissions::new(), registry)
        }
        .map_err(fail)?;
        let mut memory = Self::from_session(session, options.core, name)?;
        memory.speed_khz = speed_khz;
        {
            let mut core = memory.session.core(memory.core).map_err(fail)?;
            match plan.after {
                AfterConnect::Nothing => {}
                AfterConnect::ResetAndRun => core.reset().map_err(fail)?,
                AfterConnect::Run => core.run().map_err(fail)?,
            }
        }
        Ok(memory)
    }

    /// Wraps a session that is already attached; reads go through core `core`. `probe` is how
    /// messages call the probe.
    pub fn from_session(session: Session, core: usize, probe: String) -> Result<Self, ProbeError> {
        let target = session.target();
        if core >= target.cores.len() {
            return Err(ProbeError::NoSuchCore {
                chip: target.name.clone(),
                core,
                cores: target.cores.len(),
            });
        }
        let ram = target
            .memory_map
            .iter()
            .filter_map(|region| region.as_ram_region())
            .filter(|ram| !ram.is_alias)
            .map(|ram| ram.range.clone())
            .collect();
        Ok(ProbeMemory {
            chip: target.name.clone(),
            session,
            core,
            probe,
            speed_khz: None,
            ram,
            status_read: None,
            ended: false,
            console: String::new(),
        })
    }

    /// The chip's name in probe-rs's target list.
    pub fn chip(&self) -> &str {
        &self.chip
    }

    /// The probe, as messages name it.
    pub fn probe_name(&self) -> &str {
        &self.probe
    }

    /// The wire speed the probe settled on, when one was asked for.
    pub fn speed_khz(&self) -> Option<u32> {
        self.speed_khz
    }

    /// The chip's RAM (from probe-rs's memory map, aliases left out): where to search for the
    /// RTT control block without the firmware ELF ([`RttOptions::scan`](crate::rtt::RttOptions::scan)).
    pub fn ram_ranges(&self) -> Vec<Range<u64>> {
        self.ram.clone()
    }

    /// Whether the core is halted (a breakpoint, a `bkpt` after a panic, a debugger): a
    /// halted core writes no RTT. Asking does not disturb it.
    pub fn core_halted(&mut self) -> Result<bool, MemoryError> {
        let mut core = self.core_handle(Access::Read, DHCSR, 4)?;
        core.core_halted()
            .map_err(|e| memory_error(e, Access::Read, DHCSR, 4))
    }

    /// What the firmware printed through semihosting (`SYS_WRITEC`, `SYS_WRITE0`) so far.
    pub fn console(&self) -> &str {
        &self.console
    }

    /// Every [`STATUS_EVERY`], before a read: the core's status (probe-rs's `Core::status`,
    /// which does not halt the core), for a firmware halted on a semihosting request. An exit
    /// is reported once as [`MemoryError::TargetExited`], so that the session drains what is
    /// left in the ring (the halted core's memory still reads) and ends with the firmware's
    /// code; a console write is kept ([`console`](Self::console)) and the core resumed; any
    /// other request is reported once as the target gone, since the core would wait for an
    /// answer forever.
    fn check_status(&mut self) -> Result<(), MemoryError> {
        if self.ended
            || self
                .status_read
                .is_some_and(|at| at.elapsed() < STATUS_EVERY)
        {
            return Ok(());
        }
        self.status_read = Some(Instant::now());
        // Not `core_handle`: the core borrows `session` alone, so that `ended` and `console`
        // can be set while it lives.
        let mut core = self
            .session
            .core(self.core)
            .map_err(|e| memory_error(e, Access::Read, DHCSR, 4))?;
        let status = core
            .status()
            .map_err(|e| memory_error(e, Access::Read, DHCSR, 4))?;
        match halt_action(status) {
            HaltAction::Continue => Ok(()),
            HaltAction::Exit(code) => {
                self.ended = true;
                Err(MemoryError::TargetExited { code })
            }
            HaltAction::Print(request) => {
                let text = request
                    .read(&mut core)
                    .map_err(|e| memory_error(e, Access::Read, DHCSR, 4))?;
                core.run()
                    .map_err(|e| memory_error(e, Access::Write, DHCSR, 4))?;
                self.console.push_str(&text);
                Ok(())
            }
            HaltAction::Unserved(command) => {
                self.ended = true;
                Err(MemoryError::Disconnected {
                    reason: format!(
                        "the firmware halted on a semihosting request that host-receiver does \
                         not serve ({command:?}; it serves the exits, SYS_WRITEC and SYS_WRITE0: \
                         print on an RTT channel instead)"
                    ),
                })
            }
        }
    }

    /// The probe-rs session, for anything else (run control, other cores).
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Gives the session back.
    pub fn into_session(self) -> Session {
        self.session
    }

    fn core_handle(
        &mut self,
        access: Access,
        address: u64,
        len: usize,
    ) -> Result<Core<'_>, MemoryError> {
        self.session
            .core(self.core)
            .map_err(|e| memory_error(e, access, address, len))
    }
}

impl TargetMemory for ProbeMemory {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.check_status()?;
        let len = buf.len();
        let mut core = self.core_handle(Access::Read, address, len)?;
        core.read(address, buf)
            .map_err(|e| memory_error(e, Access::Read, address, len))
    }

    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        let len = data.len();
        let mut core = self.core_handle(Access::Write, address, len)?;
        core.write(address, data)
            .and_then(|()| core.flush())
            .map_err(|e| memory_error(e, Access::Write, address, len))
    }

    /// One 32-bit access when `address` is aligned.
    fn read_u32(&mut self, address: u64) -> Result<u32, MemoryError> {
        if !address.is_multiple_of(4) {
            let mut word = [0; 4];
            self.read(address, &mut word)?;
            return Ok(u32::from_le_bytes(word));
        }
        self.check_status()?;
        let mut core = self.core_handle(Access::Read, address, 4)?;
        core.read_word_32(address)
            .map_err(|e| memory_error(e, Access::Read, address, 4))
    }

    /// One 32-bit access when `address` is aligned.
    fn write_u32(&mut self, address: u64, value: u32) -> Result<(), MemoryError> {
        if !address.is_multiple_of(4) {
            return self.write(address, &value.to_le_bytes());
        }
        let mut core = self.core_handle(Access::Write, address, 4)?;
        core.write_word_32(address, value)
            .and_then(|()| core.flush())
            .map_err(|e| memory_error(e, Access::Write, address, 4))
    }

    /// The core runs while the probe reads: false.
    fn halts_in_batch(&self) -> bool {
        false
    }
}
