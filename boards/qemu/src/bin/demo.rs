//! The rtt-tunnel demo: a small sensor application, traced with the ordinary `tracing` macros.
//!
//! Twenty rounds, one every 20 ms of target time: each samples three simulated sensors through
//! `#[instrument]`ed functions (nested spans with arguments, return values and errors), filters
//! the readings, and logs at every level. SysTick fires every 10 ms and traces a heartbeat
//! from interrupt context, nesting inside whatever span thread mode has entered. At the end
//! the firmware waits for the host to read everything and exits 0 through semihosting.
//!
//! Run it with `cargo xtask demo`, or by hand:
//!
//! ```text
//! cargo build --release --manifest-path boards/Cargo.toml --target thumbv7m-none-eabi --bin demo
//! host-receiver --qemu boards/target/thumbv7m-none-eabi/release/demo --machine mps2-an385
//! ```
#![no_std]
#![no_main]

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use qemu_boards::{finish, init_tunnel, BOARD, TICK_HZ, TUNNEL};
use tracing::{debug, error, info, info_span, instrument, trace, trace_span, warn};

/// Rounds of sampling.
const ROUNDS: u32 = 20;
/// SysTick interrupts per second.
const SYSTICK_HZ: u32 = 100;
/// SysTick periods per round.
const TICKS_PER_ROUND: u32 = 2;
/// A heartbeat event every this many SysTick periods.
const HEARTBEAT_EVERY: u32 = 5;
/// Temperature above which the demo warns, in °C.
const TEMPERATURE_LIMIT: f64 = 24.0;

/// SysTick periods since start.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// The simulated sensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sensor {
    Temperature,
    Humidity,
    Pressure,
}

impl Sensor {
    const ALL: [Sensor; 3] = [Sensor::Temperature, Sensor::Humidity, Sensor::Pressure];

    /// The sensor's bus address.
    fn address(self) -> u8 {
        match self {
            Sensor::Temperature => 0x48,
            Sensor::Humidity => 0x40,
            Sensor::Pressure => 0x77,
        }
    }
}

/// One converted reading.
#[derive(Debug, Clone, Copy)]
struct Reading {
    sensor: Sensor,
    raw: u16,
    value: f64,
}

/// What can go wrong on the simulated bus.
#[derive(Debug, Clone, Copy)]
enum BusError {
    /// The device did not acknowledge its address.
    Nack { address: u8 },
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::Nack { address } => write!(f, "no ACK from device {address:#04x}"),
        }
    }
}

impl core::error::Error for BusError {}

/// A deterministic noise source (a linear congruential generator).
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> u16 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 20) as u16
    }
}

/// Reads a raw value from the simulated bus: the pressure sensor misses every seventh round.
/// (Its span shows only the bus address: sensor and round are on the spans around it.)
#[instrument(level = "trace", skip_all, fields(address = sensor.address()))]
fn bus_read(sensor: Sensor, round: u32, noise: &mut Noise) -> Result<u16, BusError> {
    if sensor == Sensor::Pressure && round % 7 == 6 {
        return Err(BusError::Nack {
            address: sensor.address(),
        });
    }
    let base: u16 = match sensor {
        Sensor::Temperature => 2_100 + (round as u16) * 25,
        Sensor::Humidity => 4_500,
        Sensor::Pressure => 10_130,
    };
    let raw = base + noise.next() % 64;
    trace!(raw, "bus transfer done");
    Ok(raw)
}

/// Samples one sensor and converts its raw value.
#[instrument(level = "debug", skip(round, noise), ret, err)]
fn sample(sensor: Sensor, round: u32, noise: &mut Noise) -> Result<Reading, BusError> {
    let raw = bus_read(sensor, round, noise)?;
    let value = match sensor {
        Sensor::Temperature | Sensor::Humidity => f64::from(raw) / 100.0,
        Sensor::Pressure => f64::from(raw) / 10.0,
    };
    Ok(Reading { sensor, raw, value })
}

/// Smooths the temperature with an exponential moving average.
#[instrument(level = "debug", skip(average))]
fn filter(reading: f64, average: &mut f64) -> f64 {
    *average = if *average == 0.0 {
        reading
    } else {
        *average * 0.75 + reading * 0.25
    };
    debug!(average = *average, "filtered");
    *average
}

/// Waits (in low power) until SysTick has counted to `tick`.
fn wait_for_tick(tick: u32) {
    while TICKS.load(Ordering::Acquire) < tick {
        cortex_m::asm::wfi();
    }
}

#[entry]
fn main() -> ! {
    let boot = init_tunnel!(4096);
    info!(board = BOARD, boot, tick_hz = TICK_HZ, "demo firmware up");
    // A constant message: its text stays in flash, the host reads it from the ELF (or the
    // target's memory, or a capture).
    info!("ready");

    let mut core = cortex_m::Peripherals::take().expect("the core peripherals, taken once");
    // QEMU's MPS2 boards clock SysTick with the core clock, the FPGA counter's rate.
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST
        .set_reload((TICK_HZ / u64::from(SYSTICK_HZ)) as u32 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    let mut noise = Noise(boot);
    let mut average = 0.0;
    let mut warnings = 0u32;
    let mut errors = 0u32;
    {
        let _app = info_span!("sensor_loop", rounds = ROUNDS).entered();
        for round in 0..ROUNDS {
            let _round = info_span!("round", round).entered();
            for sensor in Sensor::ALL {
                match sample(sensor, round, &mut noise) {
                    Ok(Reading {
                        sensor: Sensor::Temperature,
                        value,
                        ..
                    }) => {
                        let smooth = filter(value, &mut average);
                        if smooth > TEMPERATURE_LIMIT {
                            warnings += 1;
                            warn!(
                                celsius = smooth,
                                limit = TEMPERATURE_LIMIT,
                                "temperature above the limit"
                            );
                        }
                    }
                    Ok(reading) => {
                        debug!(?reading.sensor, raw = reading.raw, value = reading.value, "sampled")
                    }
                    Err(error) => {
                        errors += 1;
                        error!(?sensor, %error, "sensor unavailable, skipped this round");
                    }
                }
            }
            if round % 5 == 4 {
                info!(round, average, "progress");
            }
            TUNNEL.poll();
            wait_for_tick((round + 1) * TICKS_PER_ROUND);
        }
    }
    core.SYST.disable_interrupt();
    core.SYST.disable_counter();
    let stats = TUNNEL.stats();
    info!(
        rounds = ROUNDS,
        warnings,
        errors,
        frames_written = stats.frames_written,
        frames_dropped = stats.frames_dropped,
        "demo finished"
    );
    finish(true)
}

#[exception]
fn SysTick() {
    let tick = TICKS.fetch_add(1, Ordering::AcqRel) + 1;
    if tick % HEARTBEAT_EVERY == 0 {
        let _isr = trace_span!("systick", tick).entered();
        debug!(uptime_ms = tick * (1000 / SYSTICK_HZ), "heartbeat");
    }
}
