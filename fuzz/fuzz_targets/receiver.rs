//! A `Receiver` after a valid `Hello`, fed any frames (see the crate docs for the format),
//! then dropped: the end of the stream closes what is left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtt_tunnel_host::receiver::Receiver;

fuzz_target!(|data: &[u8]| {
    let dispatch = rtt_tunnel_fuzz::dispatch();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        receiver
            .try_receive(rtt_tunnel_fuzz::hello())
            .expect("a valid Hello");
        rtt_tunnel_fuzz::relay_frames(data, &mut receiver);
        drop(receiver);
    });
});
