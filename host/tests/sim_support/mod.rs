//! Shared by the tests that drain a simulated target (`session_relay`, `probe_session`,
//! `defmt_relay`): its RAM and RTT block, the options that find the block, frames built by
//! hand, and a buffer the host's output is printed into.
#![allow(dead_code)] // Each test binary uses part of it.
// A `Vec` of one RAM range is meant.
#![allow(clippy::single_range_in_vec_init)]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use rtt_tunnel_host::memory::SimMemory;
use rtt_tunnel_host::output::{Color, Format, Output};
use rtt_tunnel_host::rtt::sim::SimRtt;
use rtt_tunnel_host::rtt::{ChannelSelector, RttOptions};
use rtt_tunnel_protocol::{Frame, Message};
use tracing_core::Dispatch;

pub const RAM: u64 = 0x2000_0000;
pub const RAM_SIZE: usize = 0x4000;
pub const CB: u64 = 0x2000_0100;
pub const RING: u32 = 1024;

/// The target's memory: RAM, no RTT block yet.
pub fn ram() -> SimMemory {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    memory
}

/// A target with up channels "Terminal" (0) and "rtt-tunnel" (1) and down channel
/// "rtt-tunnel" (0), as the real-board examples lay them out; initialised.
pub fn target() -> (SimMemory, SimRtt) {
    let mut memory = ram();
    let rtt = SimRtt::builder(CB)
        .up("Terminal", 64)
        .up("rtt-tunnel", RING)
        .down("rtt-tunnel", 16)
        .build(&mut memory);
    rtt.init(&mut memory);
    (memory, rtt)
}

/// The block at [`CB`], the channels by name, as the CLI selects them.
pub fn options() -> RttOptions {
    RttOptions::at(CB)
        .ram(vec![RAM..RAM + RAM_SIZE as u64])
        .up_channel(ChannelSelector::name("rtt-tunnel"))
        .down_channel(ChannelSelector::name("rtt-tunnel"))
}

/// Frames built by hand, 1 tick apart.
pub fn wire<'a>(messages: impl IntoIterator<Item = Message<'a>>) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        let mut buf = [0u8; 512];
        let n = Frame {
            exception: 0,
            dt: 1,
            message,
        }
        .encode(&mut buf)
        .unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A `Write` into a shared buffer.
#[derive(Debug, Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).unwrap()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tracing_subscriber::fmt::MakeWriter<'_> for SharedBuf {
    type Writer = SharedBuf;
    fn make_writer(&self) -> SharedBuf {
        self.clone()
    }
}

/// The host's output in `format`, every level, no color, printed into the buffer.
pub fn output(format: Format) -> (Dispatch, SharedBuf) {
    let out = SharedBuf::default();
    let dispatch = Output::new(format)
        .filter("trace")
        .color(Color::Never)
        .dispatch_with_writer(out.clone())
        .unwrap();
    (dispatch, out)
}
