//! Nested spans, a span entered twice, a field recorded later, `follows_from`, explicit
//! parents, a cloned span closed by its last handle.

use tracing::field::Empty;
use tracing::{debug, debug_span, info, info_span, trace, trace_span, warn};

use crate::sync;

pub fn run() {
    let outer = info_span!("outer", job = "nested", later = Empty);
    {
        let _outer = outer.enter();
        info!("in outer");
        {
            let middle = debug_span!("middle", depth = 2u8);
            let _middle = middle.enter();
            for i in 0..2u32 {
                let _inner = trace_span!("inner", i).entered();
                trace!(i, "in inner");
            }
            warn!("leaving middle");
        }
        outer.record("later", 42u32);
        sync();

        // The same span entered twice in a row.
        let again = debug_span!("again");
        for round in 0..2u32 {
            let _again = again.enter();
            debug!(round, "entered again");
        }
    }
    sync();

    // A root span that follows from `outer`, with children by explicit parent.
    let detached = info_span!(parent: None, "detached");
    detached.follows_from(&outer);
    info!(parent: &detached, "explicit parent");
    let child = debug_span!(parent: &detached, "child_of_detached");
    drop(outer);
    {
        // Two handles to one span: it closes with the last.
        let clone = child.clone();
        drop(child);
        let _child = clone.enter();
        info!("in a cloned span");
    }
    drop(detached);
    info!("nested done");
    sync();
}
