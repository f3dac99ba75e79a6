//! A burst of events much larger than the ring: the sender drops whole frames, counts them and
//! reports them. After waiting for the host to drain the ring and for the last `Dropped`
//! report to go out, the firmware sends its own count of dropped frames, for the host to
//! compare with the total it received.

use tracing::{info, info_span};

use qemu_boards::TUNNEL;

use crate::sync;

/// Events in the burst.
const EVENTS: u32 = 400;

/// A payload that makes each event about 80 bytes.
const PAYLOAD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn run() {
    let _burst = info_span!("burst", events = EVENTS).entered();
    sync();
    for i in 0..EVENTS {
        info!(i, payload = PAYLOAD, "burst event");
    }
    // The host drains the ring; the pending `Dropped` report goes out; the host drains again.
    sync();
    TUNNEL.poll();
    sync();
    let dropped = TUNNEL.stats().frames_dropped;
    info!(dropped, events = EVENTS, "burst done");
    sync();
}
