//! What the fuzz targets share: the host subscriber they relay into, and the input formats.
//!
//! The targets (`fuzz_targets/`) and their inputs:
//!
//! - `frames`: raw bytes of an up channel, fed to the splitter in two chunks (the first byte
//!   says where to cut), each frame decoded as a `Frame`.
//! - `receiver`: a `Hello` (built in), then frames as `[len u8][len bytes of postcard]`, each
//!   decoded and given to a `Receiver` (no COBS, so that the fuzzer reaches deep states).
//! - `capture`: a capture file, read and replayed.
//! - `rtt_block`: 4 KiB of target RAM holding an RTT control block at its start; the reader
//!   attaches by address (first byte even) or by scanning RAM (odd), then polls.

#![allow(missing_docs)]

use rtt_tunnel_host::pipeline::Pipeline;
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::{Frame, Hello, Message, PROTOCOL_VERSION};
use tracing_core::Dispatch;

/// The host side as `host-receiver` has it: the registry with the fmt layer, writing to a
/// sink, everything enabled.
pub fn dispatch() -> Dispatch {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .finish();
    Dispatch::new(subscriber)
}

/// The `Hello` every `receiver` input starts after.
pub fn hello() -> Frame<'static> {
    Frame {
        dt: 0,
        exception: 0,
        message: Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            boot: 1,
            tick_hz: 1_000_000,
            firmware: "fuzz",
            flash_base: 0,
            flash_len: 0,
        }),
    }
}

/// Relays `data` (the `receiver` target's format) into `receiver`.
pub fn relay_frames(data: &[u8], receiver: &mut Receiver) {
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(frame) = Frame::decode(frame) {
            let _ = receiver.try_receive(frame);
        }
    }
}

/// Feeds raw up-channel bytes through a whole pipeline into a receiver (what the `frames`
/// target does after the splitter alone).
pub fn relay_bytes(bytes: &mut [u8], receiver: &mut Receiver) {
    let mut pipeline = Pipeline::new();
    pipeline.feed(bytes, receiver).expect("no capture to write");
}
