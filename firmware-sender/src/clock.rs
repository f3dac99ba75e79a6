//! Target time: the clock the firmware supplies, and the timestamp deltas frames carry.

/// The source of timestamps, supplied by the firmware: a cycle counter, a timer, an RTIC or
/// embassy monotonic. Its tick rate goes into the `Hello` frame ([`Identity::tick_hz`]).
///
/// Each frame carries the ticks since the previous frame written into the ring, so the host
/// sums them to target time. A counter narrower than 64 bits sets [`BITS`](Self::BITS): deltas
/// are then taken modulo `2^BITS` and read as signed, which is exact as long as no two frames
/// written one after the other are more than `2^(BITS - 1)` ticks apart (with a 32-bit cycle
/// counter at 64 MHz: 33 s; call [`Tunnel::poll`] or trace something more often than that, or
/// extend the counter to 64 bits in software). A `Hello` re-sent at the host's request
/// carries the time the host has summed so far, so a wrap never sets the host's clock back.
///
/// Ready ones, with the `cortex-m` feature: [`Dwt`](crate::Dwt) (the cycle counter) and
/// [`SysTickMs`](crate::SysTickMs) (milliseconds from SysTick); [`init!`](crate::init) takes
/// them as `clock = dwt(HZ)` and `clock = systick(HZ)`. With the `embassy-time` feature:
/// [`EmbassyTime`] (`clock = embassy()`).
///
/// # Examples
///
/// The Cortex-M DWT cycle counter (enable it first with `dcb.enable_trace()` and
/// `dwt.enable_cycle_counter()`), as [`Dwt`](crate::Dwt) does:
///
/// ```ignore
/// struct Cycles;
/// impl rtt_tunnel_sender::Clock for Cycles {
///     const BITS: u32 = 32;
///     fn now() -> u64 {
///         cortex_m::peripheral::DWT::cycle_count() as u64
///     }
/// }
/// ```
///
/// A 64-bit timer, or an RTIC monotonic:
///
/// ```ignore
/// struct Timer64;
/// impl rtt_tunnel_sender::Clock for Timer64 {
///     fn now() -> u64 {
///         my_hal::timer64_ticks()
///     }
/// }
/// ```
///
/// [`Identity::tick_hz`]: crate::Identity::tick_hz
/// [`Tunnel::poll`]: crate::Tunnel::poll
pub trait Clock {
    /// Width of the counter in bits, from 2 to 64. `now()` may wrap from `2^BITS - 1` to 0.
    const BITS: u32 = 64;

    /// The current time in ticks. Called once per span or event operation, from thread mode
    /// and from interrupts, outside any critical section.
    fn now() -> u64;
}

/// Timestamps from `embassy-time` (feature `embassy-time`): [`embassy_time::Instant::now`]'s
/// ticks, 64 bits at [`embassy_time::TICK_HZ`] (the `tick-hz-*` feature the firmware picks,
/// 1 MHz by default). The time driver is the firmware's (its HAL's `time-driver-*` feature);
/// [`init!`](crate::init) takes this clock as `clock = embassy()`.
#[cfg(feature = "embassy-time")]
#[derive(Debug, Clone, Copy)]
pub struct EmbassyTime;

#[cfg(feature = "embassy-time")]
impl EmbassyTime {
    /// The tick rate, for [`Identity::tick_hz`](crate::Identity::tick_hz).
    pub const TICK_HZ: u64 = embassy_time::TICK_HZ;
}

#[cfg(feature = "embassy-time")]
impl Clock for EmbassyTime {
    #[inline(always)]
    fn now() -> u64 {
        embassy_time::Instant::now().as_ticks()
    }
}

/// Ticks from `since` to `now`, modulo `2^BITS`, read as a signed `BITS`-bit number: negative
/// when an interrupt wrote a frame stamped after `now` before this one went out.
pub(crate) fn delta<C: Clock>(now: u64, since: u64) -> i64 {
    const {
        assert!(
            C::BITS >= 2 && C::BITS <= 64,
            "Clock::BITS must be in 2..=64"
        )
    };
    let shift = 64 - C::BITS;
    // Shift the `BITS`-bit difference to the top, then back with sign extension.
    ((now.wrapping_sub(since) << shift) as i64) >> shift
}

/// Ticks since boot, for a `Hello` frame: the counter itself, modulo `2^BITS`.
pub(crate) fn since_boot<C: Clock>(now: u64) -> i64 {
    const {
        assert!(
            C::BITS >= 2 && C::BITS <= 64,
            "Clock::BITS must be in 2..=64"
        )
    };
    let shift = 64 - C::BITS;
    ((now << shift) >> shift) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Wide;
    impl Clock for Wide {
        fn now() -> u64 {
            0
        }
    }

    struct Narrow;
    impl Clock for Narrow {
        const BITS: u32 = 32;
        fn now() -> u64 {
            0
        }
    }

    #[test]
    fn deltas_of_a_64_bit_clock() {
        assert_eq!(delta::<Wide>(105, 100), 5);
        assert_eq!(delta::<Wide>(100, 105), -5);
        assert_eq!(since_boot::<Wide>(1234), 1234);
    }

    #[test]
    fn deltas_of_a_32_bit_clock_across_its_wrap() {
        assert_eq!(delta::<Narrow>(3, 0xffff_fffe), 5);
        assert_eq!(delta::<Narrow>(0xffff_fffe, 3), -5);
        assert_eq!(delta::<Narrow>(0x7fff_ffff, 0), 0x7fff_ffff);
        // Bits above BITS are ignored.
        assert_eq!(delta::<Narrow>(0x1_0000_0007, 2), 5);
        assert_eq!(since_boot::<Narrow>(0x1_0000_0007), 7);
    }
}
