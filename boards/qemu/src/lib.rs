//! Board support shared by the firmware that runs in QEMU's MPS2 boards.
//!
//! The target triple selects the board (`build.rs` links the matching `memory.x`):
//!
//! | target                       | QEMU machine  | core        | timestamps               |
//! |------------------------------|---------------|-------------|--------------------------|
//! | `thumbv7m-none-eabi`         | `mps2-an385`  | Cortex-M3   | FPGAIO COUNTER, 25 MHz   |
//! | `thumbv7em-none-eabihf`      | `mps2-an386`  | Cortex-M4F  | FPGAIO COUNTER, 25 MHz   |
//! | `thumbv8m.main-none-eabihf`  | `mps2-an505`  | Cortex-M33  | FPGAIO COUNTER, 20 MHz   |
//!
//! Firmware ends itself through semihosting exit, so QEMU's exit code is the firmware's verdict:
//! [`exit`] with `true` exits 0, and a panic or a HardFault exits 1. Link this crate into every
//! binary (`use qemu_boards as _;`) to get the panic and fault handlers.
//!
//! # rtt-tunnel
//!
//! The firmware that traces shares its set-up through this crate: the one [`TUNNEL`] (the
//! sender's state, 32 spans, 64 call sites), the [`Counter`] clock, the one-shot allocator
//! that tracing-core's dispatcher needs, and [`init_tunnel!`], which declares the RTT channels
//! (up channel 0 and down channel 0, both named `rtt-tunnel`) and starts the sender:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! #[cortex_m_rt::entry]
//! fn main() -> ! {
//!     let boot = qemu_boards::init_tunnel!(4096);
//!     tracing::info!(boot, board = qemu_boards::BOARD, "up");
//!     qemu_boards::TUNNEL.poll(); // host requests, pending reports
//!     qemu_boards::finish(true)    // flush, wait for the host to read everything, exit 0
//! }
//! ```
//!
//! The panic handler sends the panic as an `ERROR` event
//! ([`report_panic`](rtt_tunnel_sender::report_panic)), writes everything still pending
//! ([`flush_tunnel`]), waits (bounded) for the host to read it, and exits with failure.
//!
//! # Timestamps
//!
//! QEMU does not emulate the DWT cycle counter, so timestamps come from the COUNTER register of
//! the boards' FPGA I/O block: 32 bits, counting at 25 MHz on the AN385/AN386 (at
//! `0x4002_8018`) and at 20 MHz on the AN505 (at `0x5030_2018`, the secure alias, as the
//! firmware runs secure). The rates were measured under QEMU against the FPGA's 100 Hz counter.
//! It wraps after 171 s (215 s on the AN505), far beyond any firmware here.
//!
//! # UART
//!
//! [`uart::Uart0`] is the boards' first UART as an rtt-tunnel `Link`, for firmware that sends
//! its frames over a serial line instead of RTT (`uart-demo`); QEMU connects it to its first
//! `-serial` chardev.
//!
//! # Boot counter
//!
//! [`boot_count`] keeps a counter in `.uninit` RAM, which neither cortex-m-rt's start-up code
//! nor QEMU's system reset clears: 1 after QEMU starts, one more after each reset
//! (`SCB::sys_reset`). It is the boot identity of the sender's `Hello`.
#![no_std]

pub mod uart;

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln, nr, syscall1};
use rtt_target::{DownChannel, UpChannel};
use rtt_tunnel_sender::{Clock, Identity, OneShotAlloc, RttLink};

/// The QEMU machine this build is for (`mps2-an385`, `mps2-an386` or `mps2-an505`).
pub const BOARD: &str = env!("QEMU_BOARD");

/// Ends the firmware through semihosting: QEMU exits with 0 when `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached when semihosting is off (QEMU without `-semihosting-config enable=on`).
    loop {
        cortex_m::asm::wfi();
    }
}

/// The FPGA I/O block's free-running counter.
#[cfg(not(mps2_tz))]
const FPGAIO_COUNTER: *const u32 = 0x4002_8018 as *const u32;
/// The FPGA I/O block's free-running counter (secure alias).
#[cfg(mps2_tz)]
const FPGAIO_COUNTER: *const u32 = 0x5030_2018 as *const u32;

/// Ticks per second of [`Counter`].
#[cfg(not(mps2_tz))]
pub const TICK_HZ: u64 = 25_000_000;
/// Ticks per second of [`Counter`].
#[cfg(mps2_tz)]
pub const TICK_HZ: u64 = 20_000_000;

/// The FPGA I/O block's 32-bit COUNTER, at [`TICK_HZ`]: the tunnel's clock.
#[derive(Debug, Clone, Copy)]
pub struct Counter;

impl Counter {
    /// The counter's current value.
    pub fn read() -> u32 {
        // SAFETY: a read-only, always-mapped device register of this board.
        unsafe { FPGAIO_COUNTER.read_volatile() }
    }

    /// Busy-waits `us` microseconds (at most a minute).
    pub fn delay_us(us: u32) {
        let ticks = (u64::from(us) * TICK_HZ / 1_000_000) as u32;
        let start = Self::read();
        while Self::read().wrapping_sub(start) < ticks {
            core::hint::spin_loop();
        }
    }
}

impl Clock for Counter {
    const BITS: u32 = 32;

    fn now() -> u64 {
        u64::from(Self::read())
    }
}

/// The sender's state, shared by every binary: 32 live spans, 64 call sites, 16 entered at
/// once, 256-byte frames.
pub type BoardTunnel = rtt_tunnel_sender::Tunnel<RttLink, Counter>;

/// The one tunnel of the firmware; [`init_tunnel!`] connects it.
pub static TUNNEL: BoardTunnel = BoardTunnel::new();

// tracing-core's one allocation (the dispatcher's `Arc`), and no other.
#[global_allocator]
static ALLOCATOR: OneShotAlloc = OneShotAlloc::new();

/// Whether [`start`] connected the tunnel (the panic handler then waits for the host).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Declares the RTT channels of rtt-tunnel (up channel 0 of `$up_size` bytes and a 16-byte
/// down channel 0, both named `rtt-tunnel`), connects [`TUNNEL`] to them and makes it the
/// global `tracing` dispatcher. Evaluates to the [`boot_count`], the `Hello`'s boot identity.
///
/// A macro because `rtt_init!` declares the control block, once per binary: a binary with other
/// RTT channels (rtt-smoke) must not get this one too. Call it once, first thing in `main`;
/// the binary must depend on `rtt-target` (this package's binaries do).
#[macro_export]
macro_rules! init_tunnel {
    ($up_size:expr) => {{
        let channels = ::rtt_target::rtt_init! {
            up: {
                0: { size: $up_size, name: "rtt-tunnel" }
            }
            down: {
                0: { size: 16, name: "rtt-tunnel" }
            }
        };
        $crate::start(
            channels.up.0,
            channels.down.0,
            concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_BIN_NAME"),
                " ",
                env!("CARGO_PKG_VERSION")
            ),
        )
    }};
}

/// Connects [`TUNNEL`] to `up` and `down` and makes it the global dispatcher; returns the
/// boot count. Use [`init_tunnel!`], which declares the channels.
///
/// # Panics
///
/// If called twice (the tunnel is connected once).
pub fn start(up: UpChannel, down: DownChannel, firmware: &'static str) -> u32 {
    let boot = boot_count();
    let identity = Identity {
        boot,
        tick_hz: TICK_HZ,
        firmware,
    };
    TUNNEL.set_flash(flash());
    if let Err(error) = TUNNEL.init(RttLink::new(up, Some(down)), identity) {
        panic!("rtt-tunnel: {:?}", error);
    }
    STARTED.store(true, Ordering::Release);
    boot
}

/// The magic value that marks [`BOOT`] as written by an earlier boot of this firmware.
const BOOT_MAGIC: u32 = 0x7274_7442;

/// The firmware's code and read-only data in flash, from cortex-m-rt's linker symbols: text
/// there cannot change, so the sender sends it once per call site
/// ([`Tunnel::set_flash`](rtt_tunnel_sender::Tunnel::set_flash)).
pub fn flash() -> core::ops::Range<usize> {
    extern "C" {
        static __stext: u8;
        static __erodata: u8;
    }
    // Only the addresses of the linker's symbols are taken, never their bytes.
    core::ptr::addr_of!(__stext) as usize..core::ptr::addr_of!(__erodata) as usize
}

/// Magic value and boot count, in RAM that survives a reset.
#[link_section = ".uninit.qemu_boards.boot"]
static mut BOOT: MaybeUninit<[u32; 2]> = MaybeUninit::uninit();

/// This boot's number, counted once per boot.
static BOOT_COUNT: AtomicU32 = AtomicU32::new(0);

/// This boot's number: 1 after QEMU started the firmware, 2 after its first reset, and so on.
/// Kept in `.uninit` RAM with a magic value; counted on the first call of each boot.
pub fn boot_count() -> u32 {
    let count = BOOT_COUNT.load(Ordering::Acquire);
    if count != 0 {
        return count;
    }
    let count = cortex_m::interrupt::free(|_| {
        // SAFETY: inside a critical section, on a single core: nothing else touches BOOT.
        // It is plain RAM holding some two words (the magic tells whether they are ours).
        unsafe {
            let words = core::ptr::addr_of_mut!(BOOT).cast::<u32>();
            let count = if words.read_volatile() == BOOT_MAGIC {
                words.add(1).read_volatile().wrapping_add(1).max(1)
            } else {
                1
            };
            words.write_volatile(BOOT_MAGIC);
            words.add(1).write_volatile(count);
            count
        }
    });
    BOOT_COUNT.store(count, Ordering::Release);
    count
}

extern "C" {
    /// rtt-target's control block (declared by `rtt_init!`).
    #[link_name = "_SEGGER_RTT"]
    static SEGGER_RTT: u8;
}

/// Whether the host has read everything written to up channel `channel` of the RTT control
/// block.
fn up_channel_drained(channel: usize) -> bool {
    // SEGGER's layout: a 24-byte header (id, max up and max down channel counts), then the up
    // channels, 24 bytes each: name, buffer, size, write offset, read offset, flags.
    let write = 24 + 24 * channel + 12;
    let read = 24 + 24 * channel + 16;
    // SAFETY: only called once `start` ran, so `rtt_init!` declared and initialised the control
    // block, with the up channels the callers name; the offsets are words the host and the
    // firmware update, read here without forming a reference.
    unsafe {
        let block = core::ptr::addr_of!(SEGGER_RTT);
        let write = block.add(write).cast::<u32>().read_volatile();
        let read = block.add(read).cast::<u32>().read_volatile();
        write == read
    }
}

/// Waits until the host has read everything the tunnel wrote, for at most `timeout_ms`
/// milliseconds (a host that is not there is not waited for); returns whether it did.
/// Without a started tunnel: `true` at once.
pub fn wait_drained(timeout_ms: u32) -> bool {
    wait_up_drained(0, timeout_ms)
}

/// Waits until the host has read everything written to up channel `channel` (the tunnel's is
/// 0), for at most `timeout_ms` milliseconds; returns whether it did. Without a started
/// tunnel: `true` at once.
pub fn wait_up_drained(channel: usize, timeout_ms: u32) -> bool {
    if !STARTED.load(Ordering::Acquire) {
        return true;
    }
    let limit = (u64::from(timeout_ms) * TICK_HZ / 1000).min(u64::from(u32::MAX / 2)) as u32;
    let start = Counter::read();
    loop {
        if up_channel_drained(channel) {
            return true;
        }
        if Counter::read().wrapping_sub(start) > limit {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// Writes everything the tunnel has pending ([`Tunnel::flush`](rtt_tunnel_sender::Tunnel::flush):
/// the `Dropped` report, what a loss made due, the capacity `Status`), waiting for the host to
/// make room in the ring, for at most about `timeout_ms` milliseconds; returns whether all of
/// it went out. Giving up is printed through semihosting: the host's counts may then fall
/// short of the target's `Stats`.
pub fn flush_tunnel(timeout_ms: u32) -> bool {
    let flushed = TUNNEL.flush(timeout_ms.max(1), || {
        wait_drained(1);
    });
    if !flushed {
        hprintln!(
            "rtt-tunnel: frames still pending after {} ms: the host's counts may fall short",
            timeout_ms
        );
    }
    flushed
}

/// Ends the firmware: writes what the tunnel still has pending ([`flush_tunnel`], up to 5 s),
/// waits (up to 5 s) for the host to read everything, and exits with `success`.
pub fn finish(success: bool) -> ! {
    flush_tunnel(5_000);
    wait_drained(5_000);
    exit(success)
}

/// The words after the program name on QEMU's command line (`-append`), read through
/// semihosting (`SYS_GET_CMDLINE`) into `buf`; empty if there are none or semihosting fails.
pub fn cmdline_args(buf: &mut [u8]) -> &str {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    let block = block.as_mut_ptr();
    // SAFETY: SYS_GET_CMDLINE takes the address of a two-word block (buffer, its length), writes
    // at most that many bytes into `buf` and the length written into the block's second word.
    // Both are passed as raw pointers and read back after the call.
    let (status, written) = unsafe {
        let status = syscall1(nr::GET_CMDLINE, block as usize);
        (status, block.add(1).read_volatile())
    };
    if status != 0 {
        return "";
    }
    let len = written.min(buf.len());
    let line = core::str::from_utf8(&buf[..len])
        .unwrap_or("")
        .trim_end_matches('\0')
        .trim();
    // The first word is the program (QEMU's `-kernel` path).
    match line.split_once(' ') {
        Some((_program, args)) => args.trim(),
        None => "",
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    rtt_tunnel_sender::report_panic(info);
    flush_tunnel(2_000);
    wait_drained(2_000);
    hprintln!("firmware panicked: {}", info);
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("HardFault at pc {:#010x}", frame.pc());
    exit(false)
}
