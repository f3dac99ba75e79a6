//! The demo-like application of the flash and RAM comparison: the same code, built once with
//! each logger ([`DemoLog`]), so that the ELF sections differ only by what the logger costs.
//!
//! Like the real demo (boards/qemu/src/bin/demo.rs), minus its interrupt and its `Debug`
//! types: rounds of sampling three simulated sensors, each round and each sample in a span,
//! events at every level with integer, float, `bool` and string fields, a warning above a
//! temperature limit and an error when the pressure sensor misses a round.

/// The log statements of the application, one method each, written with the logger's macros.
/// Spans take the code they cover as a closure; loggers without spans log a line when it
/// starts and one when it ends.
pub trait DemoLog {
    /// Info: the firmware is up.
    fn up(&self, board: &'static str, boot: u32);
    /// Info span: one round of sampling.
    fn round<R>(&self, round: u32, body: impl FnOnce() -> R) -> R;
    /// Debug span: sampling one sensor.
    fn sample<R>(&self, sensor: &'static str, body: impl FnOnce() -> R) -> R;
    /// Debug: a reading.
    fn sampled(&self, raw: u32, value: f32);
    /// Warn: the smoothed temperature is above the limit.
    fn over_limit(&self, celsius: f32, limit: f32);
    /// Error: a sensor did not answer.
    fn unavailable(&self, sensor: &'static str, address: u32, round: u32);
    /// Info: every fifth round.
    fn progress(&self, round: u32, average: f32, warm: bool);
    /// Info: the end.
    fn finished(&self, rounds: u32, warnings: u32, errors: u32);
    /// Called once per round: rtt-tunnel's `Tunnel::poll`, nothing for the others.
    fn service(&self) {}
}

/// Temperature above which the application warns, in °C.
const TEMPERATURE_LIMIT: f32 = 24.0;

/// The simulated sensors: name, bus address.
const SENSORS: [(&str, u32); 3] = [
    ("temperature", 0x48),
    ("humidity", 0x40),
    ("pressure", 0x77),
];

/// A deterministic noise source (a linear congruential generator).
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0 >> 20
    }
}

/// Runs `rounds` rounds of the application, logging through `log`; returns a checksum of the
/// readings (so that a build without logging keeps all the work).
pub fn run<L: DemoLog>(log: &L, board: &'static str, boot: u32, rounds: u32) -> u32 {
    log.up(board, boot);
    let mut noise = Noise(boot);
    let mut average = 0.0f32;
    let mut warnings = 0;
    let mut errors = 0;
    let mut checksum = 0u32;
    for round in 0..rounds {
        log.round(round, || {
            for (index, &(sensor, address)) in SENSORS.iter().enumerate() {
                let reading = log.sample(sensor, || {
                    if index == 2 && round % 7 == 6 {
                        return None;
                    }
                    let base = [2_100 + round * 25, 4_500, 10_130][index];
                    let raw = base + noise.next() % 64;
                    let value = raw as f32 / if index == 2 { 10.0 } else { 100.0 };
                    log.sampled(raw, value);
                    Some((raw, value))
                });
                match reading {
                    Some((raw, value)) => {
                        checksum = checksum.wrapping_mul(31).wrapping_add(raw);
                        if index == 0 {
                            average = if average == 0.0 {
                                value
                            } else {
                                average * 0.75 + value * 0.25
                            };
                            if average > TEMPERATURE_LIMIT {
                                warnings += 1;
                                log.over_limit(average, TEMPERATURE_LIMIT);
                            }
                        }
                    }
                    None => {
                        errors += 1;
                        log.unavailable(sensor, address, round);
                    }
                }
            }
        });
        if round % 5 == 4 {
            log.progress(round, average, average > TEMPERATURE_LIMIT);
        }
        log.service();
    }
    log.finished(rounds, warnings, errors);
    checksum
}
