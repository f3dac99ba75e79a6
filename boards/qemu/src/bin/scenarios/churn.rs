//! Spans created, entered, exited and closed in a loop with events, without waiting for the
//! host: the 2 KiB ring drops frames of every kind, `Exit` and `Close` included. Each event
//! names the span it is in (`expect`; `root` for none), for the host to check that after the
//! sender's `Resync` every event has its parent. Then, once everything pending went out, the
//! sender's own count of dropped frames.

use tracing::{info, info_span};

use qemu_boards::{flush_tunnel, TUNNEL};

use crate::sync;

/// Rounds of the loop.
const ROUNDS: u32 = 40;

/// A payload that makes an event about 70 bytes.
const PAYLOAD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn run() {
    sync();
    for round in 0..ROUNDS {
        let a = info_span!("a", round).entered();
        info!(expect = "a", "in a");
        for i in 0..3u32 {
            let b = info_span!("b", i);
            let _b = b.enter();
            info!(expect = "b", payload = PAYLOAD, "in b");
            {
                let _c = info_span!("c").entered();
                info!(expect = "c", "in c");
            }
            let _d = info_span!(parent: None, "d").entered();
            info!(expect = "d", "in d");
        }
        drop(a);
        info!(expect = "root", "between rounds");
    }
    // Nothing is open now. The host drains; what is pending goes out.
    sync();
    flush_tunnel(20_000);
    sync();
    let dropped = TUNNEL.stats().frames_dropped;
    info!(dropped, "churn done");
    sync();
}
