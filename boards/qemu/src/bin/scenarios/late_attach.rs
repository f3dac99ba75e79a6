//! A host that attaches late: the firmware enters spans and traces, then goes on working (at
//! most 10 s) without ever calling `poll()`. The host throws away what it read so far and asks
//! for a re-send (`Request::ResendAll`); the sender notices the request on its own (it looks
//! at the down channel every `REQUEST_CHECK` operations) and re-sends its `Hello`, every call
//! site and every live span; the firmware goes on inside the re-sent spans.

use tracing::{debug_span, error, info, info_span};

use qemu_boards::{exit, Counter, TICK_HZ, TUNNEL};

use crate::sync;

/// How long the firmware waits for the host's request.
const WAIT_SECONDS: u32 = 10;

pub fn run() {
    let _session = info_span!("session", user = "late").entered();
    let _job = debug_span!("job", id = 7u32).entered();
    let idle = info_span!("idle_span");
    info!("traced before the host attached");
    sync();
    info!("waiting for the host");
    sync();

    // The firmware's work while the host is away: it hands a span handle around (a clone and
    // its drop, operations that write no frame, so the late host's capture starts with the
    // re-send). No `poll()`: the re-send shows as frames written.
    let before = TUNNEL.stats().frames_written;
    let start = Counter::read();
    let limit = (u64::from(WAIT_SECONDS) * TICK_HZ) as u32;
    while TUNNEL.stats().frames_written == before {
        if Counter::read().wrapping_sub(start) > limit {
            error!("no re-send came");
            sync();
            exit(false)
        }
        Counter::delay_us(200);
        drop(idle.clone());
    }
    // The re-send fits the ring this scenario keeps drained.
    sync();
    info!("going on after the re-send");
    {
        let _idle = idle.enter();
        info!("in the idle span");
    }
    sync();
}
