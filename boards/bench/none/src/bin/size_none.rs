//! The demo-like application (`bench_common::demo`) without any logging: the baseline of the
//! flash and RAM comparison.
#![no_std]
#![no_main]

use bench_common::demo::{self, DemoLog};
use cortex_m_rt::entry;

struct NoLog;

impl DemoLog for NoLog {
    fn up(&self, _board: &'static str, _boot: u32) {}

    fn round<R>(&self, _round: u32, body: impl FnOnce() -> R) -> R {
        body()
    }

    fn sample<R>(&self, _sensor: &'static str, body: impl FnOnce() -> R) -> R {
        body()
    }

    fn sampled(&self, _raw: u32, _value: f32) {}

    fn over_limit(&self, _celsius: f32, _limit: f32) {}

    fn unavailable(&self, _sensor: &'static str, _address: u32, _round: u32) {}

    fn progress(&self, _round: u32, _average: f32, _warm: bool) {}

    fn finished(&self, _rounds: u32, _warnings: u32, _errors: u32) {}
}

#[entry]
fn main() -> ! {
    let checksum = demo::run(&NoLog, "mps2", 1, 20);
    bench_common::exit(checksum != 0)
}
