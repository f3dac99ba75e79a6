//! Board support shared by the firmware that runs in QEMU's MPS2 boards.
//!
//! The target triple selects the board, in the one board table (`rtt-tunnel-boards`, at the
//! repository's `board-table/`): `build.rs` writes its `memory.x` and its constants
//! ([`BOARD`], [`TICK_HZ`], the COUNTER's address) from there.
//!
//! Firmware ends itself through semihosting exit, so QEMU's exit code is the firmware's verdict:
//! [`exit`] with `true` exits 0, and a panic or a HardFault exits 1. Link this crate into every
//! binary (`use qemu_boards as _;`) to get the panic and fault handlers.
//!
//! # rtt-tunnel
//!
//! The firmware that traces sets rtt-tunnel up as any firmware does, with the sender's
//! `init!` (its board support: allocator, boot counter, RTT channels, the poll-then-wait path
//! the panic handler and [`finish`] take), through [`init_tunnel!`], which adds the
//! [`Counter`] clock QEMU needs and makes the tunnel [`TUNNEL`]:
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
//! the boards' FPGA I/O block: 32 bits, at the board table's `tick_hz` and `counter` address
//! (20 to 25 MHz; the TrustZone board's secure alias, as the firmware runs secure). It wraps
//! after 171 s or more, far beyond any firmware here.
//!
//! # UART
//!
//! [`uart::Uart0`] is the boards' first UART as an rtt-tunnel `Link`, for firmware that sends
//! its frames over a serial line instead of RTT (`uart-demo`); QEMU connects it to its first
//! `-serial` chardev.
//!
//! # Boot counter
//!
//! [`boot_count`] (the sender's) keeps a counter in `.uninit` RAM, which neither cortex-m-rt's
//! start-up code nor QEMU's system reset clears: 1 after QEMU starts, one more after each reset
//! (`SCB::sys_reset`). It is the boot identity of the sender's `Hello`.
#![no_std]

pub mod uart;

use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln, nr, syscall1};
use rtt_tunnel_sender::{Clock, RttLink};

pub use rtt_tunnel_sender::boot_count;

// `BOARD`, `TICK_HZ` and `FPGAIO_COUNTER` of this build's board, from the one board table
// (`rtt-tunnel-boards`, written by build.rs).
include!(concat!(env!("OUT_DIR"), "/board.rs"));

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

/// The sender's state of every binary that starts it with [`init_tunnel!`]: 32 live spans, 64
/// call sites, 16 entered at once, 256-byte frames.
pub type BoardTunnel = rtt_tunnel_sender::Tunnel<RttLink, Counter>;

/// The tunnel [`init_tunnel!`] set up (`rtt_tunnel_sender::init!` declares it in the binary).
static REGISTERED: AtomicPtr<BoardTunnel> = AtomicPtr::new(core::ptr::null_mut());

/// The one tunnel of the firmware, once [`init_tunnel!`] set it up: `TUNNEL.poll()`,
/// `TUNNEL.stats()`.
pub static TUNNEL: Registered = Registered;

/// The tunnel [`init_tunnel!`] set up, as [`TUNNEL`].
#[derive(Debug)]
pub struct Registered;

impl core::ops::Deref for Registered {
    type Target = BoardTunnel;

    /// # Panics
    ///
    /// Before [`init_tunnel!`].
    fn deref(&self) -> &BoardTunnel {
        let tunnel = REGISTERED.load(Ordering::Acquire);
        assert!(!tunnel.is_null(), "qemu_boards::TUNNEL before init_tunnel!");
        // SAFETY: only `started` stores a non-null pointer, from a `&'static BoardTunnel`.
        unsafe { &*tunnel }
    }
}

/// Whether [`init_tunnel!`] connected the tunnel (the waits below then wait for the host).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Sets rtt-tunnel up with `rtt_tunnel_sender::init!` (up channel 0 of `$up_size` bytes and
/// a 16-byte down channel 0, both named `rtt-tunnel`; the [`Counter`] clock; the allocator,
/// the boot counter and the panic path of the sender's board support), and makes it
/// [`TUNNEL`]. `defmt = SIZE` adds a `defmt` up channel 1. Evaluates to the [`boot_count`],
/// the `Hello`'s boot identity.
///
/// Call it once, first thing in `main`.
#[macro_export]
macro_rules! init_tunnel {
    ($up_size:expr $(, defmt = $defmt:expr)?) => {{
        let tunnel = ::rtt_tunnel_sender::init!(
            clock = custom($crate::Counter, $crate::TICK_HZ),
            up = $up_size
            $(, defmt = $defmt)?,
            firmware = concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_BIN_NAME"),
                " ",
                env!("CARGO_PKG_VERSION")
            )
        );
        $crate::started(tunnel)
    }};
}

/// Makes `tunnel` [`TUNNEL`]; returns the boot count. Use [`init_tunnel!`]. The flash range
/// of texts sent by reference is the tunnel's default (cortex-m-rt's read-only data).
pub fn started(tunnel: &'static BoardTunnel) -> u32 {
    REGISTERED.store(core::ptr::from_ref(tunnel).cast_mut(), Ordering::Release);
    STARTED.store(true, Ordering::Release);
    boot_count()
}

/// The firmware's code and read-only data in flash, from cortex-m-rt's linker symbols: text
/// there cannot change, so the sender sends it by reference, once per call site
/// ([`Tunnel::set_flash`](rtt_tunnel_sender::Tunnel::set_flash); the tunnel's default is the
/// read-only data alone, which [`init_tunnel!`] keeps).
pub fn flash() -> core::ops::Range<usize> {
    extern "C" {
        static __stext: u8;
        static __erodata: u8;
    }
    // Only the addresses of the linker's symbols are taken, never their bytes.
    core::ptr::addr_of!(__stext) as usize..core::ptr::addr_of!(__erodata) as usize
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
