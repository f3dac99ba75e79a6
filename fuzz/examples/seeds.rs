//! Writes the seed corpus (`fuzz/seeds/<target>/`) from the QEMU fixtures
//! (`tests/fixtures/*-mps2-an385.rttcap`: the real sender's output) and a hand-laid RTT
//! control block. Run from `fuzz/`: `cargo run --example seeds` (`cargo xtask fuzz --seeds`).

use std::fs;
use std::path::Path;

use rtt_tunnel_host::capture::{CaptureReader, Record};
use rtt_tunnel_host::pipeline::{Splitter, MAX_FRAME};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixtures = Path::new("../tests/fixtures");
    let seeds = Path::new("seeds");
    for target in ["frames", "receiver", "capture", "rtt_block"] {
        fs::create_dir_all(seeds.join(target))?;
    }
    let mut names: Vec<_> = fs::read_dir(fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-mps2-an385.rttcap"))
        .collect();
    names.sort();
    let mut up_bytes = Vec::new();
    for path in &names {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let file = fs::read(path)?;
        fs::write(seeds.join("capture").join(&stem), &file)?;
        let mut data = Vec::new();
        for record in CaptureReader::new(&file[..])? {
            match record? {
                Record::Data(bytes) | Record::DataWithDefmt { data: bytes, .. } => {
                    data.extend_from_slice(&bytes)
                }
                _ => {}
            }
        }
        // frames: a cut in the middle, then the up channel's bytes.
        let mut frames = vec![0x80];
        frames.extend_from_slice(&data);
        fs::write(seeds.join("frames").join(&stem), &frames)?;
        // receiver: each frame COBS-decoded, after its length.
        let mut receiver = Vec::new();
        let mut scratch = data.clone();
        Splitter::new(MAX_FRAME).split(&mut scratch, |frame| {
            if let Ok(frame) = frame {
                if let Ok(len) = u8::try_from(frame.len()) {
                    receiver.push(len);
                    receiver.extend_from_slice(frame);
                }
            }
        });
        fs::write(seeds.join("receiver").join(&stem), &receiver)?;
        if up_bytes.is_empty() {
            up_bytes = data;
        }
    }
    // rtt_block: a block at the start of RAM (0x2000_0000), two up channels and a down one,
    // with the first bytes of a real stream in the first ring; once as a straight run, once
    // wrapped around the ring's end.
    for (name, mode, wrapped) in [
        ("block", 0u8, false),
        ("block-wrapped", 0, true),
        ("scan", 1, false),
    ] {
        let mut ram = vec![0u8; 4096];
        let ram_at = 0x2000_0000u32;
        ram[..16].copy_from_slice(b"SEGGER RTT\0\0\0\0\0\0");
        ram[16..20].copy_from_slice(&2i32.to_le_bytes());
        ram[20..24].copy_from_slice(&1i32.to_le_bytes());
        let ring = 256u32;
        let payload = &up_bytes[..200.min(up_bytes.len())];
        let (read, write) = if wrapped {
            (200u32, (200 + payload.len() as u32) % ring)
        } else {
            (0, payload.len() as u32)
        };
        let channels = [
            (0x200u32, 0x300u32, ring, write, read, 0u32),
            (0x210, 0x400, 128, 0, 0, 0),
            (0x220, 0x480, 64, 0, 0, 0),
        ];
        for (i, (name, buffer, size, write, read, flags)) in channels.into_iter().enumerate() {
            let at = 24 + 24 * i;
            for (k, word) in [ram_at + name, ram_at + buffer, size, write, read, flags]
                .into_iter()
                .enumerate()
            {
                ram[at + 4 * k..at + 4 * k + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
        ram[0x200..0x20b].copy_from_slice(b"rtt-tunnel\0");
        ram[0x210..0x216].copy_from_slice(b"defmt\0");
        ram[0x220..0x22b].copy_from_slice(b"rtt-tunnel\0");
        for (k, &byte) in payload.iter().enumerate() {
            ram[0x300 + (read as usize + k) % ring as usize] = byte;
        }
        let mut seed = vec![mode];
        // Trailing zeroes add nothing: the fake RAM starts zeroed.
        let end = ram.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        seed.extend_from_slice(&ram[..end]);
        fs::write(seeds.join("rtt_block").join(name), &seed)?;
    }
    Ok(())
}
