//! A host that attaches late: the firmware enters spans and traces, then waits (at most 10 s)
//! for a request on the down channel. The host throws away what it read so far and asks for a
//! re-send (`Request::ResendAll`); the sender re-sends its `Hello`, every call site and every
//! live span, and the firmware goes on inside the re-sent spans.

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

    // A request shows as frames written by `poll` (the re-send).
    let before = TUNNEL.stats().frames_written;
    let start = Counter::read();
    let limit = (u64::from(WAIT_SECONDS) * TICK_HZ) as u32;
    while TUNNEL.stats().frames_written == before {
        if Counter::read().wrapping_sub(start) > limit {
            error!("no re-send request came");
            sync();
            exit(false)
        }
        Counter::delay_us(200);
        TUNNEL.poll();
    }
    // The rest of the re-send, as the ring makes room.
    loop {
        sync();
        let written = TUNNEL.stats().frames_written;
        TUNNEL.poll();
        if TUNNEL.stats().frames_written == written {
            break;
        }
    }
    info!("going on after the re-send");
    {
        let _idle = idle.enter();
        info!("in the idle span");
    }
    sync();
}
