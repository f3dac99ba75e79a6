//! Every value kind `tracing` records, on events and on spans: `bool`, signed and unsigned
//! integers of every width, `i128`, `u128`, `f64` (and `f32`), `&str`, `Debug`, `Display`, an
//! error (by `Display`: `no_std` has no error visitor), bytes, and values cut short.

use core::fmt;

use tracing::field::Empty;
use tracing::{debug, error, info, info_span, trace, warn};

use crate::sync;

/// A `Debug` struct.
#[derive(Debug)]
#[allow(dead_code)] // Its fields are read by `Debug` only.
pub struct Reading {
    sensor: &'static str,
    celsius: f32,
    flags: [bool; 2],
}

/// A type shown by `Display`.
pub struct Version(u8, u8, u8);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.0, self.1, self.2)
    }
}

/// An error type.
#[derive(Debug)]
pub enum BusError {
    Timeout { after_ms: u32 },
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::Timeout { after_ms } => write!(f, "bus timeout after {after_ms} ms"),
        }
    }
}

impl core::error::Error for BusError {}

/// A `Debug` value longer than the sender's text limit (128 bytes).
#[derive(Debug)]
#[allow(dead_code)] // Read by `Debug` only.
pub struct Long {
    samples: [u16; 64],
}

pub fn run() {
    trace!("a trace event");
    debug!("a debug event");
    info!("an info event");
    warn!("a warn event");
    error!("an error event");
    sync();

    info!(yes = true, no = false, "bool");
    info!(
        i8_min = i8::MIN,
        i16_min = i16::MIN,
        i32_min = i32::MIN,
        i64_min = i64::MIN,
        minus_one = -1i64,
        "signed"
    );
    info!(
        u8_max = u8::MAX,
        u16_max = u16::MAX,
        u32_max = u32::MAX,
        u64_max = u64::MAX,
        zero = 0u64,
        "unsigned"
    );
    sync();
    info!(i128_min = i128::MIN, u128_max = u128::MAX, "wide");
    info!(
        pi = core::f64::consts::PI,
        third = 1.0f64 / 3.0,
        half_f32 = 0.5f32,
        negative = -2.25f64,
        infinity = f64::INFINITY,
        "float"
    );
    sync();
    info!(
        text = "hello \"quoted\" \\ world",
        empty = "",
        unicode = "grüße ✓",
        "str"
    );
    let reading = Reading {
        sensor: "t0",
        celsius: 21.5,
        flags: [true, false],
    };
    info!(?reading, option = ?Some(3u8), "debug");
    sync();
    let version = Version(1, 2, 3);
    info!(%version, "display");
    let error = BusError::Timeout { after_ms: 50 };
    error!(%error, debug = ?error, "an error, by Display and by Debug");
    info!(bytes = &b"\x00\x01\xfe"[..], "bytes");
    sync();
    let long = Long {
        samples: core::array::from_fn(|i| i as u16 * 1000),
    };
    warn!(?long, "a Debug value cut at the text limit");
    sync();
    let long_str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\
                    0123456789abcdef";
    warn!(long_str, "a str cut at the text limit");
    info!("formatted message: {} + {} = {:?}", 1, 2, Some(3));
    sync();

    let span = info_span!(
        "valued",
        flag = true,
        count = 7u64,
        delta = -7i64,
        ratio = 0.25f64,
        name = "span",
        dbg = ?[1u8, 2, 3],
        later = Empty,
        big = Empty
    );
    let _span = span.enter();
    span.record("later", "recorded");
    span.record("big", u128::MAX / 3);
    info!("in a span with values");
    sync();
}
