//! The target side of RTT over a [`SimMemory`]: lays out a control block the way rtt-target
//! does and writes and reads its rings the way rtt-target does, so the reader can be tested
//! without a target.

use crate::memory::SimMemory;

use super::layout::{
    ChannelMode, CONTROL_BLOCK_ID, DESCRIPTOR_SIZE, FLAGS_OFFSET, HEADER_SIZE, READ_OFFSET,
    WRITE_OFFSET,
};

/// One channel of a [`SimRtt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChannel {
    /// Its name (`None`: a null name pointer).
    pub name: Option<String>,
    /// Where the name's bytes are.
    pub name_address: u64,
    /// Where its ring is.
    pub buffer: u64,
    /// Ring size.
    pub size: u32,
    /// The mode the firmware initialises it with.
    pub mode: ChannelMode,
}

/// A simulated firmware's RTT control block: where things are, and what the target does with
/// them. Cloning it is cheap, so a [`SimMemory`] target closure can own a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRtt {
    /// Address of the control block.
    pub control_block: u64,
    /// Up channels (target to host).
    pub up: Vec<SimChannel>,
    /// Down channels (host to target).
    pub down: Vec<SimChannel>,
}

/// Lays out a [`SimRtt`]: see [`SimRtt::builder`].
#[derive(Debug, Clone)]
pub struct SimRttBuilder {
    control_block: u64,
    names_at: u64,
    up: Vec<(Option<String>, u32, ChannelMode)>,
    down: Vec<(Option<String>, u32, ChannelMode)>,
}

impl SimRtt {
    /// Starts a layout with the control block at `control_block` (inside RAM the caller added
    /// to the memory); the rings follow the block. Names go into a ROM region the builder
    /// adds at `0x0800_0000` unless [`names_at`](SimRttBuilder::names_at) says otherwise.
    pub fn builder(control_block: u64) -> SimRttBuilder {
        SimRttBuilder {
            control_block,
            names_at: 0x0800_0000,
            up: Vec::new(),
            down: Vec::new(),
        }
    }

    fn descriptor(&self, up: bool, index: usize) -> u64 {
        let slot = if up { index } else { self.up.len() + index };
        self.control_block + HEADER_SIZE + DESCRIPTOR_SIZE * slot as u64
    }

    /// Address of up channel `index`'s descriptor.
    pub fn up_descriptor(&self, index: usize) -> u64 {
        self.descriptor(true, index)
    }

    /// Address of down channel `index`'s descriptor.
    pub fn down_descriptor(&self, index: usize) -> u64 {
        self.descriptor(false, index)
    }

    /// Size of the control block.
    pub fn block_size(&self) -> u64 {
        HEADER_SIZE + DESCRIPTOR_SIZE * (self.up.len() + self.down.len()) as u64
    }

    /// What `rtt_init!` does at boot: zero the block, fill in the descriptors, write the id
    /// last (backwards, as rtt-target does).
    pub fn init(&self, memory: &mut SimMemory) {
        memory.poke(self.control_block, &vec![0; self.block_size() as usize]);
        for (up, channels) in [(true, &self.up), (false, &self.down)] {
            for (index, channel) in channels.iter().enumerate() {
                let at = self.descriptor(up, index);
                let name = if channel.name.is_some() {
                    channel.name_address as u32
                } else {
                    0
                };
                memory.poke_u32(at, name);
                memory.poke_u32(at + 8, channel.size);
                memory.poke_u32(at + FLAGS_OFFSET, channel.mode.bits());
                memory.poke_u32(at + 4, channel.buffer as u32);
            }
        }
        memory.poke_u32(self.control_block + 16, self.up.len() as u32);
        memory.poke_u32(self.control_block + 20, self.down.len() as u32);
        for i in (0..CONTROL_BLOCK_ID.len()).rev() {
            memory.poke(self.control_block + i as u64, &CONTROL_BLOCK_ID[i..=i]);
        }
    }

    /// What a reset does before `rtt_init!` runs again: `.bss` is zeroed, the block with it.
    pub fn wipe(&self, memory: &mut SimMemory) {
        memory.poke(self.control_block, &vec![0; self.block_size() as usize]);
    }

    /// The write and read offsets of up channel `index`.
    pub fn up_offsets(&self, memory: &SimMemory, index: usize) -> (u32, u32) {
        let at = self.up_descriptor(index);
        (
            memory.peek_u32(at + WRITE_OFFSET),
            memory.peek_u32(at + READ_OFFSET),
        )
    }

    /// The mode of up channel `index` as it is in memory.
    pub fn up_mode(&self, memory: &SimMemory, index: usize) -> ChannelMode {
        ChannelMode::from_flags(memory.peek_u32(self.up_descriptor(index) + FLAGS_OFFSET))
    }

    /// The firmware sets the mode of up channel `index`.
    pub fn set_up_mode(&self, memory: &mut SimMemory, index: usize, mode: ChannelMode) {
        let at = self.up_descriptor(index) + FLAGS_OFFSET;
        let flags = memory.peek_u32(at);
        memory.poke_u32(at, mode.apply_to(flags));
    }

    /// The target writes `data` into up channel `index` the way rtt-target does in the
    /// channel's current mode: `NoBlockSkip` writes all or nothing, `NoBlockTrim` what fits;
    /// `BlockIfFull` writes what fits too (a simulation cannot spin: call again after the
    /// host has read). Returns the bytes written.
    pub fn write_up(&self, memory: &mut SimMemory, index: usize, data: &[u8]) -> usize {
        let at = self.up_descriptor(index);
        let buffer = memory.peek_u32(at + 4) as u64;
        let size = memory.peek_u32(at + 8) as usize;
        let mut write = memory.peek_u32(at + WRITE_OFFSET) as usize;
        let read = memory.peek_u32(at + READ_OFFSET) as usize;
        let free = if read > write {
            read - write - 1
        } else {
            size - write + read - 1
        };
        let mode = ChannelMode::from_flags(memory.peek_u32(at + FLAGS_OFFSET));
        if mode == ChannelMode::NoBlockSkip && data.len() > free {
            return 0;
        }
        let n = data.len().min(free);
        for &byte in &data[..n] {
            memory.poke(buffer + write as u64, &[byte]);
            write = (write + 1) % size;
        }
        memory.poke_u32(at + WRITE_OFFSET, write as u32);
        n
    }

    /// The target reads what the host wrote into down channel `index`.
    pub fn read_down(&self, memory: &mut SimMemory, index: usize) -> Vec<u8> {
        let at = self.down_descriptor(index);
        let buffer = memory.peek_u32(at + 4) as u64;
        let size = memory.peek_u32(at + 8) as usize;
        let write = memory.peek_u32(at + WRITE_OFFSET) as usize;
        let mut read = memory.peek_u32(at + READ_OFFSET) as usize;
        let mut out = Vec::new();
        while read != write {
            out.push(memory.peek(buffer + read as u64, 1)[0]);
            read = (read + 1) % size;
        }
        memory.poke_u32(at + READ_OFFSET, read as u32);
        out
    }
}

impl SimRttBuilder {
    /// Puts the channel names into a ROM region at `address` (the builder adds it).
    pub fn names_at(mut self, address: u64) -> Self {
        self.names_at = address;
        self
    }

    /// Adds an up channel with a ring of `size` bytes, initialised `NoBlockSkip`.
    pub fn up(self, name: &str, size: u32) -> Self {
        self.up_with_mode(name, size, ChannelMode::NoBlockSkip)
    }

    /// Adds an up channel the firmware initialises in `mode`.
    pub fn up_with_mode(mut self, name: &str, size: u32, mode: ChannelMode) -> Self {
        self.up.push((Some(name.to_owned()), size, mode));
        self
    }

    /// Adds an unnamed up channel.
    pub fn up_unnamed(mut self, size: u32) -> Self {
        self.up.push((None, size, ChannelMode::NoBlockSkip));
        self
    }

    /// Adds a down channel with a ring of `size` bytes.
    pub fn down(mut self, name: &str, size: u32) -> Self {
        self.down
            .push((Some(name.to_owned()), size, ChannelMode::NoBlockSkip));
        self
    }

    /// Assigns addresses, writes the names into a new ROM region of `memory`, and returns the
    /// layout. The block is not initialised yet: call [`SimRtt::init`].
    ///
    /// # Panics
    /// If the names' ROM region overlaps a region of `memory`.
    pub fn build(self, memory: &mut SimMemory) -> SimRtt {
        let descriptors = (self.up.len() + self.down.len()) as u64;
        let mut next_buffer =
            (self.control_block + HEADER_SIZE + DESCRIPTOR_SIZE * descriptors + 3) & !3;
        let mut names = Vec::new();
        let mut place = |(name, size, mode): (Option<String>, u32, ChannelMode)| {
            let name_address = self.names_at + names.len() as u64;
            if let Some(name) = &name {
                names.extend_from_slice(name.as_bytes());
                names.push(0);
            }
            let buffer = next_buffer;
            next_buffer = (next_buffer + u64::from(size) + 3) & !3;
            SimChannel {
                name,
                name_address,
                buffer,
                size,
                mode,
            }
        };
        let up: Vec<SimChannel> = self.up.into_iter().map(&mut place).collect();
        let down: Vec<SimChannel> = self.down.into_iter().map(&mut place).collect();
        if !names.is_empty() {
            memory.add_rom(self.names_at, &names);
        }
        SimRtt {
            control_block: self.control_block,
            up,
            down,
        }
    }
}
