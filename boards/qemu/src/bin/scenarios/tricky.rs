//! The corners a tracer gets wrong: a field recorded after the span was entered and left,
//! `follows_from`, clones entered one inside the other, re-entrance, explicit and `None`
//! parents of spans and events, 128-bit integers, NaN and infinities, unicode, and `Debug`
//! text longer than the sender's text limit. Also run natively by the differential test
//! (`tests/tests/differential.rs`), which compares the two trees.

use core::fmt;

use tracing::field::Empty;
use tracing::{debug, info, info_span, warn};

use crate::sync;

/// `Debug` text of 300 bytes: more than the sender's text limit (`FRAME / 2`, 128 bytes).
pub struct LongDebug;

impl fmt::Debug for LongDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..30u32 {
            write!(f, "item-{i:04},")?;
        }
        Ok(())
    }
}

pub fn run() {
    let outer = info_span!("outer", late = Empty, n = 1u8);
    let clone = outer.clone();
    {
        let _outer = outer.enter();
        // The same span entered again through its clone.
        let _clone = clone.enter();
        info!(big = u128::MAX, small = i128::MIN, "128-bit integers");
        info!(
            nan = f64::NAN,
            inf = f64::INFINITY,
            minus = f64::NEG_INFINITY,
            "floats"
        );
        info!(text = "héllo wörld ✓ 🚀", "unicode: ünïcödé ✓");
        debug!(long = ?LongDebug, "long debug");
    }
    sync();
    // Recorded after the span was entered and left.
    outer.record("late", "recorded late");
    let free = info_span!(parent: None, "free", kind = "root by choice");
    free.follows_from(&outer);
    info!(parent: &free, "explicit parent");
    info!(parent: None, "explicit root");
    let child = info_span!(parent: &outer, "child");
    // The first handle goes; the clone keeps the span alive.
    drop(outer);
    {
        let _child = child.enter();
        let _again = child.enter();
        warn!("re-entered child");
        let inner = info_span!(parent: None, "inner_root");
        let _inner = inner.enter();
        info!("in a root span entered inside another");
    }
    drop(clone);
    drop(child);
    drop(free);
    info!("tricky done");
    sync();
}
