//! The demo-like application (`bench_common::demo`) logged with defmt over defmt-rtt: its ELF
//! sections are compared with the same application on rtt-tunnel and without logging.
#![no_std]
#![no_main]

use bench_common::counter;
use bench_common::demo::{self, DemoLog};
use cortex_m_rt::entry;
use defmt_rtt as _;

defmt::timestamp!("{=u32}", counter());

struct Defmt;

impl DemoLog for Defmt {
    fn up(&self, board: &'static str, boot: u32) {
        defmt::info!("demo firmware up board={=str} boot={=u32}", board, boot);
    }

    fn round<R>(&self, round: u32, body: impl FnOnce() -> R) -> R {
        defmt::info!("round {=u32}", round);
        let result = body();
        defmt::info!("round {=u32} done", round);
        result
    }

    fn sample<R>(&self, sensor: &'static str, body: impl FnOnce() -> R) -> R {
        defmt::debug!("sample {=str}", sensor);
        let result = body();
        defmt::debug!("sample {=str} done", sensor);
        result
    }

    fn sampled(&self, raw: u32, value: f32) {
        defmt::debug!("sampled raw={=u32} value={=f32}", raw, value);
    }

    fn over_limit(&self, celsius: f32, limit: f32) {
        defmt::warn!(
            "temperature above the limit celsius={=f32} limit={=f32}",
            celsius,
            limit
        );
    }

    fn unavailable(&self, sensor: &'static str, address: u32, round: u32) {
        defmt::error!(
            "sensor unavailable, skipped this round sensor={=str} address={=u32} round={=u32}",
            sensor,
            address,
            round
        );
    }

    fn progress(&self, round: u32, average: f32, warm: bool) {
        defmt::info!(
            "progress round={=u32} average={=f32} warm={=bool}",
            round,
            average,
            warm
        );
    }

    fn finished(&self, rounds: u32, warnings: u32, errors: u32) {
        defmt::info!(
            "demo finished rounds={=u32} warnings={=u32} errors={=u32}",
            rounds,
            warnings,
            errors
        );
    }
}

#[entry]
fn main() -> ! {
    let checksum = demo::run(&Defmt, "mps2", 1, 20);
    bench_common::exit(checksum != 0)
}
