//! [`init!`](crate::init): the whole set-up of a Cortex-M firmware in one line.

/// Sets up rtt-tunnel on a Cortex-M firmware and returns its `&'static` [`Tunnel`](crate::Tunnel):
/// call it once, first thing in `main` (features `cortex-m` and `rtt`).
///
/// ```ignore
/// #[cortex_m_rt::entry]
/// fn main() -> ! {
///     rtt_tunnel_sender::init!(clock = dwt(64_000_000));
///     tracing::info!("up");
///     // …
/// }
/// ```
///
/// It declares, in the calling crate:
///
/// - the RTT control block: up channel 0 and down channel 0, both named `rtt-tunnel` (what
///   `host-receiver` looks for), and optionally a `Terminal` up channel (`rprintln!`) and a
///   `defmt` up channel (with the sender's `defmt` feature);
/// - the [`OneShotAlloc`](crate::OneShotAlloc) `#[global_allocator]` for tracing-core's one
///   allocation (a firmware with a heap of its own sets the tunnel up by hand, see the crate
///   docs);
/// - a static [`Tunnel`](crate::Tunnel) with the default capacities (32 spans, 64 call sites,
///   16 entered, 256-byte frames), connected with the [`boot_count`](crate::boot_count),
///   the clock's rate and [`firmware_id!`](crate::firmware_id), and made the global `tracing`
///   dispatcher;
/// - with `clock = systick(…)`, the `SysTick` exception handler.
///
/// It registers the tunnel for the panic path (feature `panic-handler`: the panic is reported,
/// the ring drained, then `udf`).
///
/// # Options, in this order
///
/// - `clock = dwt(CORE_HZ)`: the DWT cycle counter ([`Dwt`](crate::Dwt), turned on here);
///   `clock = systick(CORE_HZ)`: milliseconds from SysTick ([`SysTickMs`](crate::SysTickMs)),
///   programmed here; `clock = embassy()`: `embassy-time`'s `Instant` at its `TICK_HZ`
///   (`EmbassyTime`, feature `embassy-time`; the time driver is the firmware's);
///   `clock = custom(Type, TICK_HZ)`: any [`Clock`](crate::Clock) of yours.
/// - `up = BYTES`: the rtt-tunnel up channel's size (default 1024).
/// - `terminal = BYTES`: a `Terminal` up channel for rtt-target's `rprintln!`.
/// - `defmt = BYTES`: a `defmt` up channel for defmt's logger (sender feature `defmt`).
/// - `firmware = "name version"`: the `Hello`'s firmware identity (default:
///   [`firmware_id!`](crate::firmware_id)).
///
/// Other capacities, another link or your own dispatcher: declare a
/// [`Tunnel`](crate::Tunnel) yourself (the crate docs show how); everything this macro uses
/// is public.
#[macro_export]
macro_rules! init {
    (clock = $kind:ident ( $($clock:tt)* ) $(, up = $up:expr)? $(, terminal = $terminal:expr)? $(, defmt = $defmt:expr)? $(, firmware = $firmware:expr)? $(,)?) => {{
        $crate::__init_clock!(@handler $kind ( $($clock)* ));
        $crate::__init_clock!(@start $kind ( $($clock)* ));
        type __RttTunnelClock = $crate::__init_clock!(@type $kind ( $($clock)* ));
        #[global_allocator]
        static __RTT_TUNNEL_ALLOCATOR: $crate::OneShotAlloc = $crate::OneShotAlloc::new();
        static __RTT_TUNNEL: $crate::Tunnel<$crate::RttLink, __RttTunnelClock> = $crate::Tunnel::new();
        fn __rtt_tunnel_flush() {
            // Up to 2 s of the clock, or a bounded spin when the clock stops.
            let hz = $crate::__init_clock!(@hz $kind ( $($clock)* ));
            __RTT_TUNNEL.poll_and_wait(2 * hz, 50_000_000);
        }
        let (up, down) = $crate::__init_channels!(
            [$($up)?] [$($terminal)?] [$($defmt)?]
        );
        let identity = $crate::Identity {
            boot: $crate::boot_count(),
            tick_hz: $crate::__init_clock!(@hz $kind ( $($clock)* )),
            firmware: $crate::__or_firmware_id!($($firmware)?),
        };
        if let ::core::result::Result::Err(error) =
            __RTT_TUNNEL.init($crate::RttLink::new(up, ::core::option::Option::Some(down)), identity)
        {
            ::core::panic!("rtt-tunnel: {:?}", error);
        }
        $crate::register_flush(__rtt_tunnel_flush);
        // Through a binding, so that a caller that ignores it gets no unused-borrow warning.
        let tunnel: &'static $crate::Tunnel<$crate::RttLink, __RttTunnelClock> = &__RTT_TUNNEL;
        tunnel
    }};
}

/// The clock options of [`init!`](crate::init).
#[doc(hidden)]
#[macro_export]
macro_rules! __init_clock {
    (@type dwt ($hz:expr)) => {
        $crate::Dwt
    };
    (@type systick ($hz:expr)) => {
        $crate::SysTickMs
    };
    (@type custom ($ty:ty, $hz:expr)) => {
        $ty
    };
    (@type embassy ()) => {
        $crate::EmbassyTime
    };
    (@hz dwt ($hz:expr)) => {
        ($hz) as u64
    };
    (@hz systick ($hz:expr)) => {
        1000u64
    };
    (@hz custom ($ty:ty, $hz:expr)) => {
        ($hz) as u64
    };
    (@hz embassy ()) => {
        $crate::EmbassyTime::TICK_HZ
    };
    (@start dwt ($hz:expr)) => {
        $crate::Dwt::start()
    };
    (@start systick ($hz:expr)) => {
        $crate::SysTickMs::start(($hz) as u32)
    };
    (@start custom ($ty:ty, $hz:expr)) => {
        ()
    };
    (@start embassy ()) => {
        ()
    };
    (@handler systick ($hz:expr)) => {
        // cortex-m-rt's vector table calls the function named `SysTick`.
        #[export_name = "SysTick"]
        extern "C" fn __rtt_tunnel_systick() {
            $crate::SysTickMs::tick();
        }
    };
    (@handler $other:ident ($($clock:tt)*)) => {};
}

/// The RTT control block of [`init!`](crate::init): the rtt-tunnel channels first, then the
/// optional ones. Returns (up, down) and hands the optional channels to rtt-target.
#[doc(hidden)]
#[macro_export]
macro_rules! __init_channels {
    ([$($up:expr)?] [] []) => {{
        let channels = $crate::__rtt_init! {
            up: { 0: { size: $crate::__or_default!($($up)?), name: "rtt-tunnel" } }
            down: { 0: { size: 16, name: "rtt-tunnel" } }
        };
        (channels.up.0, channels.down.0)
    }};
    ([$($up:expr)?] [$terminal:expr] []) => {{
        let channels = $crate::__rtt_init! {
            up: {
                0: { size: $crate::__or_default!($($up)?), name: "rtt-tunnel" }
                1: { size: $terminal, name: "Terminal" }
            }
            down: { 0: { size: 16, name: "rtt-tunnel" } }
        };
        $crate::__private::rtt_target::set_print_channel(channels.up.1);
        (channels.up.0, channels.down.0)
    }};
    ([$($up:expr)?] [] [$defmt:expr]) => {{
        let channels = $crate::__rtt_init! {
            up: {
                0: { size: $crate::__or_default!($($up)?), name: "rtt-tunnel" }
                1: { size: $defmt, name: "defmt" }
            }
            down: { 0: { size: 16, name: "rtt-tunnel" } }
        };
        $crate::__private::rtt_target::set_defmt_channel(channels.up.1);
        (channels.up.0, channels.down.0)
    }};
    ([$($up:expr)?] [$terminal:expr] [$defmt:expr]) => {{
        let channels = $crate::__rtt_init! {
            up: {
                0: { size: $crate::__or_default!($($up)?), name: "rtt-tunnel" }
                1: { size: $terminal, name: "Terminal" }
                2: { size: $defmt, name: "defmt" }
            }
            down: { 0: { size: 16, name: "rtt-tunnel" } }
        };
        $crate::__private::rtt_target::set_print_channel(channels.up.1);
        $crate::__private::rtt_target::set_defmt_channel(channels.up.2);
        (channels.up.0, channels.down.0)
    }};
}

/// The firmware identity: the option's, or [`firmware_id!`](crate::firmware_id).
#[doc(hidden)]
#[macro_export]
macro_rules! __or_firmware_id {
    () => {
        $crate::firmware_id!()
    };
    ($firmware:expr) => {
        $firmware
    };
}

/// The up channel's default size.
#[doc(hidden)]
#[macro_export]
macro_rules! __or_default {
    () => {
        1024
    };
    ($up:expr) => {
        $up
    };
}

/// rtt-target 0.6's `rtt_init!`, with every path through this crate, so that the firmware
/// need not depend on rtt-target itself (rtt-target's own macro names `::rtt_target`).
#[doc(hidden)]
#[macro_export]
macro_rules! __rtt_init {
    {
        up: { $($up:tt)* }
        down: { $($down:tt)* }
    } => {{
        use core::mem::MaybeUninit;
        use core::ptr;
        use $crate::__private::rtt_target::UpChannel;
        use $crate::__private::rtt_target::DownChannel;
        use $crate::__private::rtt_target::rtt::*;

        #[repr(C)]
        pub struct RttControlBlock {
            header: RttHeader,
            up_channels: [RttChannel; $crate::__private::rtt_target::rtt_init_repeat!({ 1 + } { 0 }; $($up)*)],
            down_channels: [RttChannel; $crate::__private::rtt_target::rtt_init_repeat!({ 1 + } { 0 }; $($down)*)],
        }

        #[used]
        #[no_mangle]
        #[export_name = "_SEGGER_RTT"]
        pub static mut CONTROL_BLOCK: MaybeUninit<RttControlBlock> = MaybeUninit::uninit();

        #[allow(unused)]
        #[export_name = "rtt_init_must_not_be_called_multiple_times"]
        fn rtt_init_must_not_be_called_multiple_times() { }

        use $crate::__private::critical_section;

        static INITIALIZED: critical_section::Mutex<core::cell::Cell<bool>> =
            critical_section::Mutex::new(core::cell::Cell::new(false));
        critical_section::with(|cs| {
            if INITIALIZED.borrow(cs).get() {
                panic!("the RTT control block is set up once (rtt_tunnel_sender::init! or rtt_init!)");
            }
            INITIALIZED.borrow(cs).set(true);
        });

        // SAFETY: as rtt-target's `rtt_init!`: the control block and the channel buffers are
        // statics of this block, set up once (checked above) before any channel is used.
        #[allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
        unsafe {
            ptr::write_bytes(core::ptr::addr_of_mut!(CONTROL_BLOCK).cast::<RttControlBlock>(), 0, 1);

            let cb = &mut *core::ptr::addr_of_mut!(CONTROL_BLOCK).cast::<RttControlBlock>();

            $crate::__private::rtt_target::rtt_init_channels!(cb.up_channels; $($up)*);
            $crate::__private::rtt_target::rtt_init_channels!(cb.down_channels; $($down)*);

            // The header last, so that a host does not find a half-made block.
            cb.header.init(cb.up_channels.len(), cb.down_channels.len());

            pub struct Channels {
                pub up: $crate::__private::rtt_target::rtt_init_repeat!({ UpChannel, } {}; $($up)*),
                pub down: $crate::__private::rtt_target::rtt_init_repeat!({ DownChannel, } {}; $($down)*),
            }

            Channels {
                up: $crate::__private::rtt_target::rtt_init_wrappers!(cb.up_channels; UpChannel::new; {}; $($up)*),
                down: $crate::__private::rtt_target::rtt_init_wrappers!(cb.down_channels; DownChannel::new; {}; $($down)*),
            }
        }
    }};
}
