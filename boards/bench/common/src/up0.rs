//! Up channel 0 of the binary's RTT control block (`_SEGGER_RTT`, whoever declared it:
//! rtt-target's `rtt_init!` or defmt-rtt), seen from the firmware.
//!
//! Between timed calls the firmware plays the host: [`make_room`] throws away what the logger
//! wrote, so that no timed call ever finds the ring full. The wire phase instead waits for the
//! real host to read everything ([`wait_empty`]).
//!
//! Only the binaries that declare a control block may call these functions.

extern "C" {
    /// The RTT control block, declared by `rtt_init!` or by defmt-rtt.
    #[link_name = "_SEGGER_RTT"]
    static SEGGER_RTT: u8;
}

// SEGGER's layout: a 24-byte header (16-byte id, up and down channel counts), then the up
// channels, 24 bytes each: name, buffer, size, write offset, read offset, flags.
const SIZE: usize = 24 + 8;
const WRITE: usize = 24 + 12;
const READ: usize = 24 + 16;
const FLAGS: usize = 24 + 20;

/// A word of up channel 0's descriptor.
fn word(offset: usize) -> *mut u32 {
    // SAFETY: only the address is taken; the binary declares the control block (module docs),
    // and the descriptor words are 4-byte aligned inside it.
    unsafe {
        core::ptr::addr_of!(SEGGER_RTT)
            .add(offset)
            .cast::<u32>()
            .cast_mut()
    }
}

fn read_word(offset: usize) -> u32 {
    // SAFETY: a descriptor word that the logger and the host update; read without forming a
    // reference.
    unsafe { word(offset).read_volatile() }
}

/// Size of the ring in bytes.
pub fn size() -> u32 {
    read_word(SIZE)
}

/// Where the logger writes next.
pub fn write_offset() -> u32 {
    read_word(WRITE)
}

/// Where the host reads next.
pub fn read_offset() -> u32 {
    read_word(READ)
}

/// The channel's mode (the low two bits of its flags): 0 no-block-skip, 1 no-block-trim,
/// 2 block-if-full.
pub fn mode() -> u32 {
    read_word(FLAGS) & 0b11
}

/// Bytes written and not read yet.
pub fn fill() -> u32 {
    let size = size();
    if size == 0 {
        return 0;
    }
    (write_offset() + size - read_offset()) % size
}

/// Whether the host has read everything.
pub fn is_empty() -> bool {
    write_offset() == read_offset()
}

/// Reads nothing and drops everything written so far, as a host that read it all would.
pub fn discard() {
    // SAFETY: the read offset is the host's word; no host is attached while the firmware
    // drains its own ring (the harness's timed phase), so nothing else writes it.
    unsafe { word(READ).write_volatile(write_offset()) }
}

/// Drops the ring's contents when it is more than half full: before a timed call, so that the
/// call always finds at least half of the ring free.
pub fn make_room() {
    if fill() * 2 > size() {
        discard();
    }
}

/// Waits until the host has read everything; gives up (and returns `false`) after `spins`
/// polls of the offsets.
pub fn wait_empty(spins: u32) -> bool {
    for _ in 0..spins {
        if is_empty() {
            return true;
        }
        core::hint::spin_loop();
    }
    is_empty()
}
