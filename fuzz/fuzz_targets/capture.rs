//! A capture file: its records read, then the file replayed into a receiver.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtt_tunnel_host::capture::{replay, summarize, CaptureReader};
use rtt_tunnel_host::receiver::Receiver;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = CaptureReader::new(data) {
        let _ = summarize(&mut reader);
    }
    let dispatch = rtt_tunnel_fuzz::dispatch();
    tracing_core::dispatcher::with_default(&dispatch, || {
        if let Ok(mut reader) = CaptureReader::new(data) {
            let mut receiver = Receiver::default();
            let _ = replay(&mut reader, &mut receiver);
        }
    });
});
