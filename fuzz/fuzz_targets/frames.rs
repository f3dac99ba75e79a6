//! The splitter and the decoder over any bytes, in two chunks; then the same bytes through a
//! whole pipeline into a receiver.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtt_tunnel_host::pipeline::{Splitter, MAX_FRAME};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::Frame;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(bytes.len());
    let mut bytes = bytes.to_vec();
    let mut splitter = Splitter::new(MAX_FRAME);
    let (first, second) = bytes.split_at_mut(cut);
    let mut frames = 0usize;
    let mut check = |frame: Result<&[u8], _>| {
        if let Ok(frame) = frame {
            assert!(frame.len() <= MAX_FRAME);
            let _ = Frame::decode(frame);
            frames += 1;
        }
    };
    splitter.split(first, &mut check);
    splitter.split(second, &mut check);
    assert!(splitter.pending() <= data.len());

    let dispatch = rtt_tunnel_fuzz::dispatch();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        let mut bytes = data[1..].to_vec();
        rtt_tunnel_fuzz::relay_bytes(&mut bytes, &mut receiver);
    });
});
