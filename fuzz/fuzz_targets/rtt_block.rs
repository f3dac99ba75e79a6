//! The RTT reader over a fake target memory: 4 KiB of RAM whose contents the fuzzer picks,
//! the control block expected at its start (first byte even) or searched for (odd); then a
//! few polls, a down-channel write, and the close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtt_tunnel_host::memory::SimMemory;
use rtt_tunnel_host::rtt::{ChannelSelector, RttOptions, RttReader};

const RAM: u64 = 0x2000_0000;
const RAM_LEN: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&how, image)) = data.split_first() else {
        return;
    };
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_LEN);
    memory.poke(RAM, &image[..image.len().min(RAM_LEN)]);
    let ram = vec![RAM..RAM + RAM_LEN as u64];
    let options = if how & 1 == 0 {
        RttOptions::at(RAM).ram(ram)
    } else {
        RttOptions::scan(ram)
    };
    let options = match how >> 1 & 3 {
        0 => options,
        1 => options.up_channel(ChannelSelector::Index(1)),
        2 => options.down_channel(ChannelSelector::Index(0)),
        _ => options.max_poll_bytes(16),
    };
    let mut reader = RttReader::new(memory, options);
    let _ = reader.attach();
    let mut out = Vec::new();
    for _ in 0..3 {
        if reader.poll(&mut out).is_err() {
            break;
        }
    }
    let _ = reader.write_down(b"resend");
    drop(reader);
});
