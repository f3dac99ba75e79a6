//! The runtime level filter the host can change, and level conversions to the wire.

use core::sync::atomic::{AtomicU8, Ordering};

use rtt_tunnel_protocol as proto;
use tracing_core::{Level, LevelFilter};

/// A `LevelFilter` in an atomic, read on every `enabled` check without a critical section.
///
/// Stored as how many levels are cut from `TRACE`, so the initial `TRACE` is a zero and the
/// whole sender can live in `.bss`.
pub(crate) struct AtomicLevel(AtomicU8);

impl AtomicLevel {
    /// Everything enabled (as far as `tracing`'s static `max_level_*` features allow).
    pub(crate) const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    pub(crate) fn get(&self) -> LevelFilter {
        match self.0.load(Ordering::Relaxed) {
            0 => LevelFilter::TRACE,
            1 => LevelFilter::DEBUG,
            2 => LevelFilter::INFO,
            3 => LevelFilter::WARN,
            4 => LevelFilter::ERROR,
            _ => LevelFilter::OFF,
        }
    }

    /// Sets the filter; returns whether it changed.
    pub(crate) fn set(&self, filter: LevelFilter) -> bool {
        let cut = match filter {
            LevelFilter::TRACE => 0,
            LevelFilter::DEBUG => 1,
            LevelFilter::INFO => 2,
            LevelFilter::WARN => 3,
            LevelFilter::ERROR => 4,
            _ => 5,
        };
        self.0.swap(cut, Ordering::Relaxed) != cut
    }

    pub(crate) fn allows(&self, level: &Level) -> bool {
        *level <= self.get()
    }
}

pub(crate) fn to_wire(level: &Level) -> proto::Level {
    match *level {
        Level::TRACE => proto::Level::Trace,
        Level::DEBUG => proto::Level::Debug,
        Level::INFO => proto::Level::Info,
        Level::WARN => proto::Level::Warn,
        _ => proto::Level::Error,
    }
}

pub(crate) fn from_wire(filter: proto::LevelFilter) -> LevelFilter {
    match filter {
        proto::LevelFilter::Off => LevelFilter::OFF,
        proto::LevelFilter::Error => LevelFilter::ERROR,
        proto::LevelFilter::Warn => LevelFilter::WARN,
        proto::LevelFilter::Info => LevelFilter::INFO,
        proto::LevelFilter::Debug => LevelFilter::DEBUG,
        proto::LevelFilter::Trace => LevelFilter::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_round_trips_and_filters() {
        let level = AtomicLevel::new();
        assert_eq!(level.get(), LevelFilter::TRACE);
        assert!(level.allows(&Level::TRACE));
        for filter in [
            LevelFilter::OFF,
            LevelFilter::ERROR,
            LevelFilter::WARN,
            LevelFilter::INFO,
            LevelFilter::DEBUG,
            LevelFilter::TRACE,
        ] {
            level.set(filter);
            assert_eq!(level.get(), filter);
        }
        assert!(!level.set(LevelFilter::TRACE), "no change");
        assert!(level.set(LevelFilter::WARN));
        assert!(level.allows(&Level::ERROR));
        assert!(level.allows(&Level::WARN));
        assert!(!level.allows(&Level::INFO));
        level.set(LevelFilter::OFF);
        assert!(!level.allows(&Level::ERROR));
    }

    #[test]
    fn wire_levels() {
        assert_eq!(to_wire(&Level::TRACE), proto::Level::Trace);
        assert_eq!(to_wire(&Level::ERROR), proto::Level::Error);
        assert_eq!(from_wire(proto::LevelFilter::Off), LevelFilter::OFF);
        assert_eq!(from_wire(proto::LevelFilter::Debug), LevelFilter::DEBUG);
    }
}
