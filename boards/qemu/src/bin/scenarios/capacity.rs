//! Past the sender's capacities (the boards' `Tunnel` keeps 32 spans and 16 entered): 64 spans
//! alive at once, then nesting 40 deep. The sender counts what it could not track; its
//! `Status` frame makes the host warn once per capacity, with the count and the fix. The
//! firmware then sends its own counts.

use tracing::{info, info_span, Span};

use qemu_boards::{flush_tunnel, TUNNEL};

use crate::sync;

/// Nested spans, 40 deep, an event at the bottom.
fn deep(n: u32) {
    if n == 0 {
        info!("bottom");
        return;
    }
    let _span = info_span!("deep", n).entered();
    deep(n - 1);
}

pub fn run() {
    {
        let spans: [Span; 64] = core::array::from_fn(|i| info_span!("live", i));
        info!(alive = spans.len(), "64 spans alive");
    }
    sync();
    deep(40);
    flush_tunnel(20_000);
    sync();
    let stats = TUNNEL.stats();
    info!(
        spans_untracked = stats.spans_untracked,
        enters_untracked = stats.enters_untracked,
        "capacity done"
    );
    sync();
}
