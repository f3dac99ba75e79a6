//! A simulated target memory for tests: regions of RAM and ROM, a scriptable target that runs
//! between batches or between two reads, and injected link failures.

use std::fmt;

use super::{Access, MemoryError, TargetMemory};

type Action = Box<dyn FnOnce(&mut SimMemory) + Send>;
type Target = Box<dyn FnMut(&mut SimMemory) + Send>;

/// What a [`SimMemory`] has been asked to do so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Calls of [`TargetMemory::read`] (and `read_u32`).
    pub reads: u64,
    /// Calls of [`TargetMemory::write`] (and `write_u32`).
    pub writes: u64,
    /// Bytes read through the trait.
    pub bytes_read: u64,
    /// Bytes written through the trait.
    pub bytes_written: u64,
    /// Batches begun.
    pub batches_begun: u64,
    /// Batches ended.
    pub batches_ended: u64,
    /// Reads and writes made outside a batch.
    pub unbatched_accesses: u64,
}

struct Region {
    start: u64,
    data: Vec<u8>,
    writable: bool,
}

impl Region {
    fn range(&self, address: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let offset = address.checked_sub(self.start)?;
        let offset = usize::try_from(offset).ok()?;
        let end = offset.checked_add(len)?;
        (end <= self.data.len()).then_some(offset..end)
    }
}

/// A simulated target memory: what the RTT reader's unit tests (and a probe transport's) run
/// against.
///
/// * Regions: [`add_ram`](Self::add_ram) (zeroed, writable) and [`add_rom`](Self::add_rom)
///   (read-only through the trait). An access that does not lie inside one region fails with
///   [`MemoryError::Access`], as a bus fault would.
/// * The target side: [`peek`](Self::peek) and [`poke`](Self::poke) read and write any region
///   without counting as host accesses.
/// * A running target: [`set_target`](Self::set_target) installs what the target does while
///   the host is not looking; it runs at the start of every batch (the GDB model: the core runs
///   between two halts) and on [`run_target`](Self::run_target).
/// * Scripted events: [`before_read`](Self::before_read) runs an action just before a given
///   read — a target that resets between two reads of one poll, as a probe reading a running
///   core can see.
/// * Failures: [`disconnect_after`](Self::disconnect_after) loses the link after a number of
///   accesses; [`require_batches`](Self::require_batches) refuses accesses outside a batch, as
///   QEMU's gdbstub refuses them while the core runs.
pub struct SimMemory {
    regions: Vec<Region>,
    stats: SimStats,
    in_batch: bool,
    require_batches: bool,
    halts_in_batch: bool,
    target: Option<Target>,
    scripted: Vec<(u64, Action)>,
    disconnect_at: Option<u64>,
}

impl fmt::Debug for SimMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regions: Vec<_> = self
            .regions
            .iter()
            .map(|r| (r.start, r.data.len(), r.writable))
            .collect();
        f.debug_struct("SimMemory")
            .field("regions", &regions)
            .field("stats", &self.stats)
            .field("in_batch", &self.in_batch)
            .finish_non_exhaustive()
    }
}

impl Default for SimMemory {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct SimError(String);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

impl SimMemory {
    /// An empty memory: add regions before use.
    pub fn new() -> Self {
        SimMemory {
            regions: Vec::new(),
            stats: SimStats::default(),
            in_batch: false,
            require_batches: false,
            halts_in_batch: false,
            target: None,
            scripted: Vec::new(),
            disconnect_at: None,
        }
    }

    /// Adds `len` bytes of zeroed, writable RAM at `start`.
    ///
    /// # Panics
    /// If the region overlaps one added before.
    pub fn add_ram(&mut self, start: u64, len: usize) -> &mut Self {
        self.add_region(start, vec![0; len], true)
    }

    /// Adds read-only memory holding `bytes` at `start` (flash: channel names live there).
    ///
    /// # Panics
    /// If the region overlaps one added before.
    pub fn add_rom(&mut self, start: u64, bytes: &[u8]) -> &mut Self {
        self.add_region(start, bytes.to_vec(), false)
    }

    fn add_region(&mut self, start: u64, data: Vec<u8>, writable: bool) -> &mut Self {
        let end = start + data.len() as u64;
        for region in &self.regions {
            let other_end = region.start + region.data.len() as u64;
            assert!(
                end <= region.start || start >= other_end,
                "SimMemory region {start:#x}..{end:#x} overlaps {:#x}..{other_end:#x}",
                region.start
            );
        }
        self.regions.push(Region {
            start,
            data,
            writable,
        });
        self
    }

    /// Refuses (with [`MemoryError::Access`]) every read and write made outside a batch, as
    /// QEMU's gdbstub does while the core runs.
    pub fn require_batches(&mut self, on: bool) -> &mut Self {
        self.require_batches = on;
        self
    }

    /// Claims (or not) that the target is stopped during a batch, as a GDB transport does
    /// ([`TargetMemory::halts_in_batch`]). Scripted [`before_read`](Self::before_read)
    /// actions still run: a test can check what the reader trusts.
    pub fn set_halts_in_batch(&mut self, halts: bool) -> &mut Self {
        self.halts_in_batch = halts;
        self
    }

    /// Installs what the target does while the host is not looking. It runs at the start of
    /// every batch and on [`run_target`](Self::run_target).
    pub fn set_target(&mut self, target: impl FnMut(&mut SimMemory) + Send + 'static) {
        self.target = Some(Box::new(target));
    }

    /// Lets the target run once (calls what [`set_target`](Self::set_target) installed).
    pub fn run_target(&mut self) {
        if let Some(mut target) = self.target.take() {
            target(self);
            // The target may have replaced itself; keep the newer one.
            if self.target.is_none() {
                self.target = Some(target);
            }
        }
    }

    /// Runs `action` just before the `n`-th read from now (`n = 1`: the next read), inside
    /// that read's call: the host sees memory before the action on its earlier reads and after
    /// it on this one.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn before_read(&mut self, n: u64, action: impl FnOnce(&mut SimMemory) + Send + 'static) {
        assert!(n > 0, "before_read counts from 1");
        self.scripted.push((self.stats.reads + n, Box::new(action)));
    }

    /// Loses the link after `accesses` more reads and writes: every later access, and every
    /// batch, fails with [`MemoryError::Disconnected`].
    pub fn disconnect_after(&mut self, accesses: u64) {
        self.disconnect_at = Some(self.stats.reads + self.stats.writes + accesses);
    }

    /// What the host has done so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Whether a batch is open.
    pub fn in_batch(&self) -> bool {
        self.in_batch
    }

    /// The target's view: `len` bytes at `address`, not counted as a host access.
    ///
    /// # Panics
    /// If the range is not inside one region.
    #[track_caller]
    pub fn peek(&self, address: u64, len: usize) -> Vec<u8> {
        let (index, range) = self
            .find(address, len)
            .unwrap_or_else(|| panic!("SimMemory::peek({address:#x}, {len}) outside every region"));
        self.regions[index].data[range].to_vec()
    }

    /// The target's view: the little-endian `u32` at `address`.
    ///
    /// # Panics
    /// If the range is not inside one region.
    #[track_caller]
    pub fn peek_u32(&self, address: u64) -> u32 {
        let bytes = self.peek(address, 4);
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// The target writes `bytes` at `address` (read-only regions included), not counted as a
    /// host access.
    ///
    /// # Panics
    /// If the range is not inside one region.
    #[track_caller]
    pub fn poke(&mut self, address: u64, bytes: &[u8]) {
        let (index, range) = self.find(address, bytes.len()).unwrap_or_else(|| {
            panic!(
                "SimMemory::poke({address:#x}, {} bytes) outside every region",
                bytes.len()
            )
        });
        self.regions[index].data[range].copy_from_slice(bytes);
    }

    /// The target writes `value` as a little-endian `u32` at `address`.
    ///
    /// # Panics
    /// If the range is not inside one region.
    #[track_caller]
    pub fn poke_u32(&mut self, address: u64, value: u32) {
        self.poke(address, &value.to_le_bytes());
    }

    fn find(&self, address: u64, len: usize) -> Option<(usize, std::ops::Range<usize>)> {
        self.regions
            .iter()
            .enumerate()
            .find_map(|(index, region)| region.range(address, len).map(|range| (index, range)))
    }

    fn check_link(&self) -> Result<(), MemoryError> {
        match self.disconnect_at {
            Some(at) if self.stats.reads + self.stats.writes >= at => {
                Err(MemoryError::Disconnected {
                    reason: "simulated link loss".into(),
                })
            }
            _ => Ok(()),
        }
    }

    fn check_access(
        &mut self,
        access: Access,
        address: u64,
        len: usize,
    ) -> Result<(), MemoryError> {
        self.check_link()?;
        if !self.in_batch {
            self.stats.unbatched_accesses += 1;
            if self.require_batches {
                return Err(MemoryError::Access {
                    access,
                    address,
                    len,
                    reason: "the core is running (access outside a batch)".into(),
                });
            }
        }
        Ok(())
    }

    fn run_scripted(&mut self) {
        let now = self.stats.reads;
        let mut index = 0;
        while index < self.scripted.len() {
            if self.scripted[index].0 == now {
                let (_, action) = self.scripted.remove(index);
                action(self);
            } else {
                index += 1;
            }
        }
    }
}

impl TargetMemory for SimMemory {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.check_access(Access::Read, address, buf.len())?;
        self.stats.reads += 1;
        self.run_scripted();
        let (index, range) = self
            .find(address, buf.len())
            .ok_or_else(|| MemoryError::Access {
                access: Access::Read,
                address,
                len: buf.len(),
                reason: "no memory there (simulated bus fault)".into(),
            })?;
        buf.copy_from_slice(&self.regions[index].data[range]);
        self.stats.bytes_read += buf.len() as u64;
        Ok(())
    }

    fn write(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.check_access(Access::Write, address, data.len())?;
        self.stats.writes += 1;
        let fault = |reason: &str| MemoryError::Access {
            access: Access::Write,
            address,
            len: data.len(),
            reason: reason.into(),
        };
        let (index, range) = self
            .find(address, data.len())
            .ok_or_else(|| fault("no memory there (simulated bus fault)"))?;
        let region = &mut self.regions[index];
        if !region.writable {
            return Err(fault("read-only memory"));
        }
        region.data[range].copy_from_slice(data);
        self.stats.bytes_written += data.len() as u64;
        Ok(())
    }

    fn begin_batch(&mut self) -> Result<(), MemoryError> {
        self.check_link()?;
        if self.in_batch {
            return Err(MemoryError::transport(SimError(
                "begin_batch inside a batch: batches do not nest".into(),
            )));
        }
        self.run_target();
        self.in_batch = true;
        self.stats.batches_begun += 1;
        Ok(())
    }

    fn end_batch(&mut self) -> Result<(), MemoryError> {
        if !self.in_batch {
            return Err(MemoryError::transport(SimError(
                "end_batch without begin_batch".into(),
            )));
        }
        self.in_batch = false;
        self.stats.batches_ended += 1;
        self.check_link()
    }

    fn halts_in_batch(&self) -> bool {
        self.halts_in_batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::batch;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn memory() -> SimMemory {
        let mut memory = SimMemory::new();
        memory.add_rom(0x0, b"name\0").add_ram(0x2000_0000, 64);
        memory
    }

    #[test]
    fn reads_and_writes_inside_regions() {
        let mut memory = memory();
        memory.write(0x2000_0010, &[1, 2, 3]).unwrap();
        let mut buf = [0; 5];
        memory.read(0x2000_000f, &mut buf).unwrap();
        assert_eq!(buf, [0, 1, 2, 3, 0]);
        memory.read(0x0, &mut buf).unwrap();
        assert_eq!(&buf, b"name\0");
        let stats = memory.stats();
        assert_eq!((stats.reads, stats.writes), (2, 1));
        assert_eq!((stats.bytes_read, stats.bytes_written), (10, 3));
        assert_eq!(stats.unbatched_accesses, 3);
    }

    #[test]
    fn accesses_outside_regions_and_to_rom_fail() {
        let mut memory = memory();
        let mut buf = [0; 8];
        let error = memory.read(0x2000_003c, &mut buf).unwrap_err();
        assert!(matches!(
            error,
            MemoryError::Access {
                access: Access::Read,
                address: 0x2000_003c,
                len: 8,
                ..
            }
        ));
        let error = memory.write(0x0, b"x").unwrap_err();
        assert!(error.to_string().contains("read-only"), "{error}");
        assert_eq!(memory.peek(0, 1), b"n");
    }

    #[test]
    fn target_runs_at_each_batch() {
        let mut memory = memory();
        let runs = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&runs);
        memory.set_target(move |m| {
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            m.poke_u32(0x2000_0000, n);
        });
        for expected in 1..=3 {
            let value = batch(&mut memory, |m| m.read_u32(0x2000_0000)).unwrap();
            assert_eq!(value, expected);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn scripted_action_runs_between_two_reads() {
        let mut memory = memory();
        memory.poke_u32(0x2000_0000, 1);
        memory.before_read(2, |m| m.poke_u32(0x2000_0000, 2));
        assert_eq!(memory.read_u32(0x2000_0000).unwrap(), 1);
        assert_eq!(memory.read_u32(0x2000_0000).unwrap(), 2);
        assert_eq!(memory.read_u32(0x2000_0000).unwrap(), 2);
    }

    #[test]
    fn required_batches_refuse_loose_accesses() {
        let mut memory = memory();
        memory.require_batches(true);
        assert!(memory.read_u32(0x2000_0000).is_err());
        assert_eq!(batch(&mut memory, |m| m.read_u32(0x2000_0000)).unwrap(), 0);
        assert!(memory.begin_batch().is_ok());
        assert!(memory.begin_batch().is_err(), "nested batch");
        memory.end_batch().unwrap();
        assert!(memory.end_batch().is_err(), "unbalanced end");
    }

    #[test]
    fn disconnect_fails_every_later_access() {
        let mut memory = memory();
        memory.disconnect_after(2);
        memory.read_u32(0x2000_0000).unwrap();
        memory.write_u32(0x2000_0000, 5).unwrap();
        let error = memory.read_u32(0x2000_0000).unwrap_err();
        assert!(error.is_target_gone(), "{error}");
        assert!(memory.begin_batch().unwrap_err().is_target_gone());
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn overlapping_regions_are_refused() {
        let mut memory = memory();
        memory.add_ram(0x2000_0020, 64);
    }
}
