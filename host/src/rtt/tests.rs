//! The reader against a simulated target.

// A `Vec` of one RAM range is meant.
#![allow(clippy::single_range_in_vec_init)]

use proptest::prelude::*;

use super::sim::SimRtt;
use super::*;
use crate::memory::{MemoryError, SimMemory, TargetMemory};

const RAM: u64 = 0x2000_0000;
const RAM_SIZE: usize = 0x4000;
const CB: u64 = 0x2000_0100;

/// RAM plus a block with up channels "Terminal" (64) and "tracing" (`ring`), and down
/// channel "requests" (16); initialised.
fn target(ring: u32) -> (SimMemory, SimRtt) {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up("Terminal", 64)
        .up("tracing", ring)
        .down("requests", 16)
        .build(&mut memory);
    rtt.init(&mut memory);
    (memory, rtt)
}

fn options() -> RttOptions {
    RttOptions::at(CB)
        .ram(vec![RAM..RAM + RAM_SIZE as u64])
        .up_channel(ChannelSelector::name("tracing"))
}

/// A reader that has attached.
fn attached<M: TargetMemory>(memory: M, options: RttOptions) -> RttReader<M> {
    let mut reader = RttReader::new(memory, options);
    match reader.poll(&mut Vec::new()).unwrap() {
        Poll::Attached(_) => {}
        other => panic!("expected an attach, got {other:?}"),
    }
    reader
}

fn poll_data<M: TargetMemory>(reader: &mut RttReader<M>) -> Vec<u8> {
    let mut out = Vec::new();
    match reader.poll(&mut out).unwrap() {
        Poll::Data(n) => assert_eq!(n, out.len()),
        other => panic!("expected data, got {other:?}"),
    }
    out
}

#[test]
fn attaches_by_address_and_describes_the_channels() {
    let (memory, rtt) = target(256);
    let mut reader = RttReader::new(memory, options().down_channel("0".parse().unwrap()));
    let mut out = Vec::new();
    let Poll::Attached(attachment) = reader.poll(&mut out).unwrap() else {
        panic!("no attach")
    };
    assert_eq!(attachment.control_block, CB);
    assert_eq!(attachment.up.index, 1);
    assert_eq!(attachment.up.name.as_deref(), Some("tracing"));
    assert_eq!(attachment.up.buffer, rtt.up[1].buffer);
    assert_eq!(attachment.up.size, 256);
    assert_eq!(attachment.up.descriptor, rtt.up_descriptor(1));
    assert_eq!(
        attachment.down.as_ref().unwrap().name.as_deref(),
        Some("requests")
    );
    let listed: Vec<String> = attachment
        .channels
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        listed,
        [
            "0 'Terminal' (64 bytes)",
            "1 'tracing' (256 bytes)",
            "0 'requests' (16 bytes)"
        ]
    );
    assert_eq!(reader.attachment(), Some(&*attachment));
    assert_eq!(reader.stats().attaches, 1);
}

#[test]
fn drains_in_order_and_writes_the_read_offset_back() {
    let (mut memory, rtt) = target(32);
    assert_eq!(rtt.write_up(&mut memory, 1, b"hello "), 6);
    let mut reader = attached(memory, options());
    assert_eq!(poll_data(&mut reader), b"hello ");
    assert_eq!(rtt.up_offsets(reader.memory(), 1), (6, 6));
    assert_eq!(poll_data(&mut reader), b"");
    // Across the end of the ring: 6 + 30 > 32.
    let chunk: Vec<u8> = (0..30).collect();
    assert_eq!(rtt.write_up(reader.memory_mut(), 1, &chunk), 30);
    assert_eq!(poll_data(&mut reader), chunk);
    assert_eq!(rtt.up_offsets(reader.memory(), 1), (4, 4));
    assert_eq!(reader.stats().bytes_read, 36);
}

#[test]
fn max_poll_bytes_limits_one_poll() {
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, &[7; 50]);
    let mut reader = attached(memory, options().max_poll_bytes(20));
    assert_eq!(poll_data(&mut reader).len(), 20);
    assert_eq!(poll_data(&mut reader).len(), 20);
    assert_eq!(poll_data(&mut reader).len(), 10);
    assert_eq!(poll_data(&mut reader).len(), 0);
}

proptest! {
    /// Whatever the target writes, in whatever pieces, and however the host's polls fall,
    /// the host reads exactly the bytes the target managed to write, in order.
    #[test]
    fn any_interleaving_of_writes_and_polls_preserves_the_stream(
        ring in 2u32..40,
        steps in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..50), 1usize..64), 1..40),
    ) {
        let (memory, rtt) = target(ring);
        let mut reader = attached(memory, options().max_poll_bytes(usize::MAX));
        let mut written = Vec::new();
        let mut read = Vec::new();
        for (data, max) in steps {
            rtt.set_up_mode(reader.memory_mut(), 1, ChannelMode::NoBlockTrim);
            let n = rtt.write_up(reader.memory_mut(), 1, &data);
            written.extend_from_slice(&data[..n]);
            reader.options.max_poll_bytes = max;
            read.extend(poll_data(&mut reader));
        }
        reader.options.max_poll_bytes = usize::MAX;
        read.extend(poll_data(&mut reader));
        prop_assert_eq!(read, written);
    }
}

#[test]
fn no_block_yet_is_waiting_and_attach_says_why() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB).up("tracing", 64).build(&mut memory);
    let mut reader = RttReader::new(memory, options());
    let mut out = Vec::new();
    assert_eq!(reader.poll(&mut out).unwrap(), Poll::Waiting);
    let message = reader.attach().unwrap_err().to_string();
    assert!(
        message.contains("no RTT control block found at 0x20000100"),
        "{message}"
    );
    assert!(message.contains("is the sender initialised"), "{message}");

    rtt.init(reader.memory_mut());
    assert!(matches!(reader.poll(&mut out).unwrap(), Poll::Attached(_)));
    assert_eq!(reader.attach().unwrap().control_block, CB);
}

#[test]
fn a_half_initialised_id_is_not_a_block() {
    let (mut memory, _rtt) = target(64);
    // rtt-target writes the id backwards: until its first byte is there, there is no block.
    memory.poke(CB, &[0]);
    let mut reader = RttReader::new(memory, options());
    assert_eq!(reader.poll(&mut Vec::new()).unwrap(), Poll::Waiting);
}

#[test]
fn scanning_finds_the_block_even_across_a_chunk_boundary() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, 0x3000);
    // 4 bytes before the scanner's 4 KiB chunk boundary: the id straddles it.
    let address = RAM + 0x1000 - 4;
    let rtt = SimRtt::builder(address)
        .up("tracing", 64)
        .build(&mut memory);
    rtt.init(&mut memory);
    let ram = vec![RAM..RAM + 0x3000];
    let mut reader = RttReader::new(
        memory,
        RttOptions::scan(ram).up_channel(ChannelSelector::name("tracing")),
    );
    match reader.poll(&mut Vec::new()).unwrap() {
        Poll::Attached(attachment) => assert_eq!(attachment.control_block, address),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scanning_nothing_and_two_blocks() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, 0x2000);
    let ram = vec![RAM..RAM + 0x2000];
    let first = SimRtt::builder(RAM + 0x100).up("a", 16).build(&mut memory);
    let second = SimRtt::builder(RAM + 0x1800)
        .names_at(0x0900_0000)
        .up("b", 16)
        .build(&mut memory);
    let mut reader = RttReader::new(memory, RttOptions::scan(ram));
    assert_eq!(reader.poll(&mut Vec::new()).unwrap(), Poll::Waiting);
    let message = reader.attach().unwrap_err().to_string();
    assert!(
        message.contains("in RAM 0x20000000..0x20002000"),
        "{message}"
    );
    assert!(
        message.contains("`_SEGGER_RTT` symbol would give"),
        "{message}"
    );

    first.init(reader.memory_mut());
    second.init(reader.memory_mut());
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    assert!(
        matches!(error, RttError::Ambiguous { ref addresses } if addresses.len() == 2),
        "{error}"
    );
    assert!(
        error.to_string().contains("0x20000100, 0x20001800"),
        "{error}"
    );
}

#[test]
fn from_elf_prefers_the_symbol_and_falls_back_to_scanning() {
    use crate::elf::{tests::tiny_elf, FirmwareElf, RTT_SYMBOL};
    let with_symbol = FirmwareElf::parse(tiny_elf(&[(RTT_SYMBOL, 0x2000_0040)])).unwrap();
    let options = RttOptions::from_elf(&with_symbol).unwrap();
    assert_eq!(options.locate, Locate::Address(0x2000_0040));
    assert_eq!(options.ram, vec![0x2000_0000..0x2000_0408]);
    let without = FirmwareElf::parse(tiny_elf(&[("main", 0)])).unwrap();
    let options = RttOptions::from_elf(&without).unwrap();
    assert_eq!(options.locate, Locate::Scan(vec![0x2000_0000..0x2000_0408]));
}

#[test]
fn garbage_blocks_are_invalid_with_the_reason() {
    // A ring outside RAM.
    let (mut memory, rtt) = target(64);
    memory.poke_u32(rtt.up_descriptor(1) + 4, 0x6000_0000);
    let mut reader = RttReader::new(memory, options());
    let message = reader.poll(&mut Vec::new()).unwrap_err().to_string();
    assert!(
        message.contains(
            "invalid: up channel 1: ring 0x60000000..0x60000040 is not inside the target's RAM"
        ),
        "{message}"
    );

    // Absurd channel counts.
    let (mut memory, _) = target(64);
    memory.poke_u32(CB + 16, 100_000);
    let mut reader = RttReader::new(memory, options());
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    assert!(
        matches!(error, RttError::Invalid { address: CB, .. }),
        "{error}"
    );

    // A read offset outside the ring.
    let (mut memory, rtt) = target(64);
    memory.poke_u32(rtt.up_descriptor(0) + 16, 64);
    let mut reader = RttReader::new(memory, options());
    let message = reader.poll(&mut Vec::new()).unwrap_err().to_string();
    assert!(
        message.contains("up channel 0: offsets write 0 / read 64"),
        "{message}"
    );
}

#[test]
fn a_missing_channel_lists_the_channels() {
    let (memory, _) = target(64);
    let mut reader = RttReader::new(memory, options().up_channel(ChannelSelector::name("defmt")));
    let message = reader.poll(&mut Vec::new()).unwrap_err().to_string();
    assert_eq!(
        message,
        "up channel 'defmt' not found; up channels are: 0 'Terminal' (64 bytes), 1 'tracing' (64 bytes)"
    );
    let (memory, _) = target(64);
    let mut reader = RttReader::new(memory, options().down_channel(ChannelSelector::Index(3)));
    let message = reader.poll(&mut Vec::new()).unwrap_err().to_string();
    assert_eq!(
        message,
        "down channel 3 not found; down channels are: 0 'requests' (16 bytes)"
    );
}

#[test]
fn uninitialised_and_unnamed_channels() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up_unnamed(32)
        .up("tracing", 32)
        .build(&mut memory);
    rtt.init(&mut memory);
    // Channel 1 declared but never initialised (null buffer), as rtt_init! allows.
    memory.poke_u32(rtt.up_descriptor(1) + 4, 0);
    let mut reader = RttReader::new(memory, options());
    let message = reader.poll(&mut Vec::new()).unwrap_err().to_string();
    assert!(
        message.contains("0 (unnamed) (32 bytes), 1 'tracing' (not initialised)"),
        "{message}"
    );
    reader.options.up = ChannelSelector::Index(0);
    assert!(matches!(
        reader.poll(&mut Vec::new()).unwrap(),
        Poll::Attached(_)
    ));
}

#[test]
fn a_name_at_the_very_end_of_flash_is_read_byte_by_byte() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB).up("tracing", 32).build(&mut memory);
    rtt.init(&mut memory);
    // The name region is exactly "tracing\0": a 16-byte read runs off its end.
    let mut reader = attached(memory, options());
    assert_eq!(
        reader.attachment().unwrap().up.name.as_deref(),
        Some("tracing")
    );
    assert!(reader.poll(&mut Vec::new()).is_ok());
}

#[test]
fn a_mode_is_set_on_attach_and_restored_on_close() {
    let (memory, rtt) = target(64);
    let mut reader = attached(memory, options().mode(ChannelMode::BlockIfFull));
    assert_eq!(rtt.up_mode(reader.memory(), 1), ChannelMode::BlockIfFull);
    assert_eq!(
        rtt.up_mode(reader.memory(), 0),
        ChannelMode::NoBlockSkip,
        "other channels untouched"
    );
    reader.close().unwrap();
    assert_eq!(rtt.up_mode(reader.memory(), 1), ChannelMode::NoBlockSkip);
    // Idempotent: a second close does not touch the target.
    let writes = reader.memory().stats().writes;
    reader.close().unwrap();
    assert_eq!(reader.memory().stats().writes, writes);
    assert!(matches!(
        reader.poll(&mut Vec::new()),
        Err(RttError::Closed)
    ));
    assert!(matches!(reader.write_down(b"x"), Err(RttError::Closed)));
}

#[test]
fn the_firmwares_own_non_blocking_mode_is_what_comes_back() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up_with_mode("tracing", 64, ChannelMode::NoBlockTrim)
        .build(&mut memory);
    rtt.init(&mut memory);
    memory.poke_u32(rtt.up_descriptor(0) + 20, 0xa500 | 1); // flag bits above the mode stay
    let mut reader = attached(memory, options().mode(ChannelMode::BlockIfFull));
    reader.close().unwrap();
    assert_eq!(
        reader.memory().peek_u32(rtt.up_descriptor(0) + 20),
        0xa500 | 1
    );
}

#[test]
fn a_blocking_firmware_is_left_non_blocking_even_when_the_host_set_nothing() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up_with_mode("tracing", 64, ChannelMode::BlockIfFull)
        .build(&mut memory);
    rtt.init(&mut memory);
    let mut reader = attached(memory, options());
    reader.close().unwrap();
    assert_eq!(rtt.up_mode(reader.memory(), 0), ChannelMode::NoBlockSkip);
}

#[test]
fn dropping_the_reader_restores_the_mode() {
    let (mut memory, rtt) = target(64);
    {
        let reader = attached(&mut memory, options().mode(ChannelMode::BlockIfFull));
        assert_eq!(rtt.up_mode(reader.memory(), 1), ChannelMode::BlockIfFull);
    }
    assert_eq!(rtt.up_mode(&memory, 1), ChannelMode::NoBlockSkip);
}

#[test]
fn close_on_a_lost_link_reports_it_and_drop_does_not_panic() {
    let (mut memory, _) = target(64);
    memory.disconnect_after(1000);
    let mut reader = attached(memory, options().mode(ChannelMode::BlockIfFull));
    reader.memory_mut().disconnect_after(0);
    let error = reader.close().unwrap_err();
    assert!(error.is_target_gone(), "{error}");
    drop(reader);
}

#[test]
fn a_wiped_block_is_a_reset_then_the_new_boot_is_attached() {
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"old boot");
    let mut reader = attached(memory, options().mode(ChannelMode::BlockIfFull));
    assert_eq!(poll_data(&mut reader), b"old boot");
    rtt.wipe(reader.memory_mut());
    let mut out = Vec::new();
    assert_eq!(
        reader.poll(&mut out).unwrap(),
        Poll::Reset(ResetCause::ControlBlockGone)
    );
    assert_eq!(reader.attachment(), None);
    assert_eq!(reader.poll(&mut out).unwrap(), Poll::Waiting);
    rtt.init(reader.memory_mut());
    rtt.write_up(reader.memory_mut(), 1, b"new");
    assert!(matches!(reader.poll(&mut out).unwrap(), Poll::Attached(_)));
    assert_eq!(
        rtt.up_mode(reader.memory(), 1),
        ChannelMode::BlockIfFull,
        "mode set again"
    );
    assert_eq!(poll_data(&mut reader), b"new");
    let stats = reader.stats();
    assert_eq!((stats.attaches, stats.resets), (2, 1));
}

#[test]
fn a_block_initialised_again_between_polls_is_a_reset() {
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"abc");
    let mut reader = attached(memory, options());
    assert_eq!(poll_data(&mut reader), b"abc");
    // Same layout, fresh offsets: the read offset the host left at 3 is back at 0.
    rtt.init(reader.memory_mut());
    rtt.write_up(reader.memory_mut(), 1, b"xy");
    let mut out = Vec::new();
    assert_eq!(
        reader.poll(&mut out).unwrap(),
        Poll::Reset(ResetCause::ReadOffsetMoved {
            expected: 3,
            found: 0
        })
    );
    assert!(out.is_empty());
    assert!(matches!(reader.poll(&mut out).unwrap(), Poll::Attached(_)));
    assert_eq!(poll_data(&mut reader), b"xy");
}

#[test]
fn a_moved_ring_or_reverted_mode_is_a_reset() {
    let (memory, rtt) = target(64);
    let mut reader = attached(memory, options());
    let at = rtt.up_descriptor(1);
    let size = reader.memory().peek_u32(at + 8);
    reader.memory_mut().poke_u32(at + 8, size - 4);
    match reader.poll(&mut Vec::new()).unwrap() {
        Poll::Reset(ResetCause::Reinitialised { what }) => {
            assert!(what.contains("+64 became"), "{what}")
        }
        other => panic!("{other:?}"),
    }

    let (memory, rtt) = target(64);
    let mut reader = attached(memory, options().mode(ChannelMode::BlockIfFull));
    rtt.set_up_mode(reader.memory_mut(), 1, ChannelMode::NoBlockSkip);
    assert_eq!(
        reader.poll(&mut Vec::new()).unwrap(),
        Poll::Reset(ResetCause::ModeReverted {
            expected: ChannelMode::BlockIfFull,
            found: ChannelMode::NoBlockSkip
        })
    );
}

#[test]
fn a_reset_between_two_reads_of_one_poll_discards_the_bytes() {
    // A probe reads a running core: the target resets after the host read the descriptor and
    // the ring, before it writes the read offset back.
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"abcdef");
    let mut reader = attached(memory, options());
    let reset = rtt.clone();
    // Reads of one poll: span, ring, span again. Reset before the third.
    reader.memory_mut().before_read(3, move |m| {
        reset.wipe(m);
        reset.init(m);
    });
    let mut out = Vec::new();
    match reader.poll(&mut out).unwrap() {
        Poll::Reset(ResetCause::Reinitialised { what }) => {
            assert_eq!(what, "the write offset went back from 6 to 0")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        out.is_empty(),
        "bytes of a poll that saw a reset are dropped"
    );
    assert_eq!(
        rtt.up_offsets(reader.memory(), 1),
        (0, 0),
        "the new boot's offsets untouched"
    );
}

#[test]
fn corrupt_offsets_are_an_error_and_the_reader_lets_go() {
    let (memory, rtt) = target(64);
    let mut reader = attached(memory, options());
    reader.memory_mut().poke_u32(rtt.up_descriptor(1) + 12, 500);
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("up channel at 0x20000130 is corrupt: offsets write 500"),
        "{message}"
    );
    assert_eq!(reader.attachment(), None);
    // Still garbage: attaching again names it.
    assert!(matches!(
        reader.poll(&mut Vec::new()),
        Err(RttError::Invalid { .. })
    ));
}

#[test]
fn a_failed_ring_read_leaves_the_read_offset_alone() {
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"keep me");
    let mut reader = attached(memory, options());
    // The next poll reads the span, then the ring: lose the link on the ring.
    reader.memory_mut().disconnect_after(1);
    let mut out = b"earlier".to_vec();
    let error = reader.poll(&mut out).unwrap_err();
    assert!(error.is_target_gone(), "{error}");
    assert_eq!(out, b"earlier", "nothing half-read is handed out");
    assert_eq!(rtt.up_offsets(reader.memory(), 1), (7, 0));
}

#[test]
fn every_poll_is_one_batch_and_nothing_happens_outside_one() {
    let (mut memory, rtt) = target(64);
    memory.require_batches(true);
    let writer = rtt.clone();
    let mut counter = 0u8;
    memory.set_target(move |m| {
        counter = counter.wrapping_add(1);
        writer.write_up(m, 1, &[counter; 5]);
    });
    let mut reader = attached(
        memory,
        options()
            .mode(ChannelMode::BlockIfFull)
            .down_channel(ChannelSelector::Index(0)),
    );
    let mut out = Vec::new();
    for _ in 0..10 {
        reader.poll(&mut out).unwrap();
    }
    reader.write_down(b"req").unwrap();
    reader.close().unwrap();
    let stats = reader.memory().stats();
    assert_eq!(
        stats.batches_begun, 13,
        "attach + 10 polls + write_down + close"
    );
    assert_eq!(stats.batches_ended, 13);
    assert_eq!(stats.unbatched_accesses, 0);
    // The target wrote 5 bytes at the start of each batch; the attach and the 10 polls
    // found 55, and the polls drained them all.
    assert_eq!(out.len(), 5 * 11);
}

#[test]
fn down_channel_writes_never_overwrite_unread_bytes() {
    let (memory, rtt) = target(64);
    let mut reader = attached(
        memory,
        options().down_channel(ChannelSelector::name("requests")),
    );
    // Ring of 16: 15 bytes of room.
    assert_eq!(reader.write_down(b"0123456789").unwrap(), 10);
    assert_eq!(reader.write_down(b"abcdefghij").unwrap(), 5);
    let writes = reader.memory().stats().writes;
    assert_eq!(
        reader.write_down(b"more").unwrap(),
        0,
        "full until the target reads"
    );
    assert_eq!(
        reader.memory().stats().writes,
        writes,
        "a full ring is not touched"
    );
    assert_eq!(rtt.read_down(reader.memory_mut(), 0), b"0123456789abcde");
    // Wraps around the end of the ring.
    assert_eq!(reader.write_down(b"wrapping-around").unwrap(), 15);
    assert_eq!(rtt.read_down(reader.memory_mut(), 0), b"wrapping-around");
    assert_eq!(reader.stats().bytes_written, 30);
}

#[test]
fn down_channel_errors() {
    let (memory, rtt) = target(64);
    let mut reader = RttReader::new(memory, options());
    assert!(matches!(
        reader.write_down(b"x"),
        Err(RttError::NotAttached)
    ));
    reader.poll(&mut Vec::new()).unwrap();
    assert!(matches!(
        reader.write_down(b"x"),
        Err(RttError::NoDownChannel)
    ));

    let (memory, _) = target(64);
    let mut reader = attached(memory, options().down_channel(ChannelSelector::Index(0)));
    rtt.wipe(reader.memory_mut());
    assert!(matches!(
        reader.write_down(b"x"),
        Err(RttError::ControlBlockChanged)
    ));
    // The poll is what reports the reset.
    assert_eq!(
        reader.poll(&mut Vec::new()).unwrap(),
        Poll::Reset(ResetCause::ControlBlockGone)
    );
}

#[test]
fn a_lost_link_is_target_gone() {
    let (mut memory, _) = target(64);
    memory.disconnect_after(0);
    let mut reader = RttReader::new(memory, options());
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    assert!(error.is_target_gone());
    assert!(matches!(
        error,
        RttError::Memory(MemoryError::Disconnected { .. })
    ));
}

#[test]
fn a_borrowed_memory_works_too() {
    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"hi");
    let mut reader = attached(&mut memory, options());
    let mut out = Vec::new();
    assert_eq!(reader.poll(&mut out).unwrap(), Poll::Data(2));
    drop(reader);
    assert_eq!(rtt.up_offsets(&memory, 1), (2, 2));
}

#[test]
fn a_halting_link_is_read_once_per_poll_a_running_one_twice() {
    for (halts, reads_per_poll) in [(false, 3), (true, 2)] {
        let (mut memory, rtt) = target(64);
        memory.set_halts_in_batch(halts);
        let mut reader = attached(memory, options());
        rtt.write_up(reader.memory_mut(), 1, b"data");
        let before = reader.memory().stats().reads;
        assert_eq!(poll_data(&mut reader), b"data");
        assert_eq!(
            reader.memory().stats().reads - before,
            reads_per_poll,
            "halts: {halts}"
        );
    }
}

/// RAM plus a block with up channels "tracing" (64), "Terminal" (16) and "defmt" (`ring`),
/// and down channel "requests" (16); initialised.
fn two_streams(ring: u32) -> (SimMemory, SimRtt) {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up("tracing", 64)
        .up("Terminal", 16)
        .up("defmt", ring)
        .down("requests", 16)
        .build(&mut memory);
    rtt.init(&mut memory);
    (memory, rtt)
}

fn with_defmt() -> RttOptions {
    options().extra_up_channel(ChannelSelector::name("defmt"))
}

/// One `poll_channels` that must bring data: (main bytes, defmt bytes).
fn poll_both<M: TargetMemory>(reader: &mut RttReader<M>) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    let mut extra = [Vec::new()];
    match reader.poll_channels(&mut out, &mut extra).unwrap() {
        Poll::Data(n) => assert_eq!(n, out.len()),
        other => panic!("expected data, got {other:?}"),
    }
    let [defmt] = extra;
    (out, defmt)
}

#[test]
fn two_up_channels_are_drained_in_one_batch() {
    let (mut memory, rtt) = two_streams(32);
    memory.require_batches(true);
    memory.set_halts_in_batch(true);
    rtt.write_up(&mut memory, 0, b"frames");
    rtt.write_up(&mut memory, 2, b"defmt bytes");
    let mut reader = RttReader::new(memory, with_defmt());
    let Poll::Attached(attachment) = reader.poll(&mut Vec::new()).unwrap() else {
        panic!("no attach")
    };
    let defmt = attachment.extra_up[0].as_ref().expect("the defmt channel");
    assert_eq!((defmt.index, defmt.name.as_deref()), (2, Some("defmt")));
    let before = reader.memory().stats();
    assert_eq!(
        poll_both(&mut reader),
        (b"frames".to_vec(), b"defmt bytes".to_vec())
    );
    let after = reader.memory().stats();
    assert_eq!(after.batches_begun - before.batches_begun, 1, "one halt");
    // One read of the descriptors, one of each ring.
    assert_eq!(after.reads - before.reads, 3);
    assert_eq!(rtt.up_offsets(reader.memory(), 0), (6, 6));
    assert_eq!(rtt.up_offsets(reader.memory(), 2), (11, 11));
    assert_eq!(reader.stats().bytes_read, 17);

    // Only one of them has data; then the defmt ring wraps.
    rtt.write_up(reader.memory_mut(), 2, &[9; 30]);
    assert_eq!(poll_both(&mut reader), (Vec::new(), vec![9; 30]));
    assert_eq!(rtt.up_offsets(reader.memory(), 2), (9, 9));
    rtt.write_up(reader.memory_mut(), 0, b"x");
    assert_eq!(poll_both(&mut reader), (b"x".to_vec(), Vec::new()));
    assert_eq!(poll_both(&mut reader), (Vec::new(), Vec::new()));
}

#[test]
fn plain_poll_leaves_the_extra_channels_alone() {
    let (mut memory, rtt) = two_streams(32);
    rtt.write_up(&mut memory, 0, b"frames");
    rtt.write_up(&mut memory, 2, b"defmt");
    let mut reader = attached(memory, with_defmt());
    assert_eq!(poll_data(&mut reader), b"frames");
    assert_eq!(rtt.up_offsets(reader.memory(), 2), (5, 0), "not drained");
    assert_eq!(poll_both(&mut reader), (Vec::new(), b"defmt".to_vec()));
}

#[test]
fn a_missing_extra_channel_fails_the_attach_unless_optional() {
    let (memory, _) = target(64);
    let mut reader = RttReader::new(memory, with_defmt());
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "up channel 'defmt' not found; up channels are: 0 'Terminal' (64 bytes), \
         1 'tracing' (64 bytes)"
    );

    let (mut memory, rtt) = target(64);
    rtt.write_up(&mut memory, 1, b"only frames");
    let mut reader = RttReader::new(
        memory,
        options().optional_up_channel(ChannelSelector::name("defmt")),
    );
    let Poll::Attached(attachment) = reader.poll(&mut Vec::new()).unwrap() else {
        panic!("no attach")
    };
    assert_eq!(attachment.extra_up, vec![None]);
    assert_eq!(
        poll_both(&mut reader),
        (b"only frames".to_vec(), Vec::new())
    );
}

#[test]
fn the_same_channel_twice_is_refused() {
    let (memory, _) = two_streams(32);
    let mut reader = RttReader::new(
        memory,
        options().extra_up_channel(ChannelSelector::Index(0)),
    );
    let error = reader.poll(&mut Vec::new()).unwrap_err();
    assert!(matches!(error, RttError::ChannelTwice { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("0 'tracing' (64 bytes) is selected twice"),
        "{error}"
    );
}

#[test]
fn an_extra_channels_read_offset_moving_is_a_reset_and_nothing_is_handed_out() {
    let (memory, rtt) = two_streams(32);
    let mut reader = attached(memory, with_defmt());
    rtt.write_up(reader.memory_mut(), 0, b"frames");
    rtt.write_up(reader.memory_mut(), 2, b"defmt");
    // The firmware laid the defmt channel out again: its read offset is not the host's.
    reader
        .memory_mut()
        .poke_u32(rtt.up_descriptor(2) + super::layout::READ_OFFSET, 3);
    let mut out = b"kept".to_vec();
    let mut extra = [b"kept too".to_vec()];
    assert_eq!(
        reader.poll_channels(&mut out, &mut extra).unwrap(),
        Poll::Reset(ResetCause::ExtraReadOffsetMoved {
            channel: 2,
            expected: 0,
            found: 3
        })
    );
    assert_eq!(
        ResetCause::ExtraReadOffsetMoved {
            channel: 2,
            expected: 0,
            found: 3
        }
        .to_string(),
        "up channel 2's read offset moved from 0 to 3 without the host"
    );
    assert_eq!((out, extra), (b"kept".to_vec(), [b"kept too".to_vec()]));
    assert_eq!(
        rtt.up_offsets(reader.memory(), 0),
        (6, 0),
        "the main channel's bytes are left for the new attach"
    );
    assert_eq!(reader.attachment(), None);
}

#[test]
fn a_reset_seen_only_on_the_extra_channel_between_two_reads_discards_every_channel() {
    // A probe reads a running core: between reading the rings and writing the read offsets,
    // the defmt channel's write offset goes back (its ring was laid out again).
    let (mut memory, rtt) = two_streams(32);
    rtt.write_up(&mut memory, 0, b"frames");
    rtt.write_up(&mut memory, 2, b"defmt");
    let mut reader = attached(memory, with_defmt());
    let at = rtt.up_descriptor(2) + 12;
    // Reads of one poll: span, main ring, defmt ring, span again.
    reader
        .memory_mut()
        .before_read(4, move |m| m.poke_u32(at, 1));
    let mut out = Vec::new();
    let mut extra = [Vec::new()];
    match reader.poll_channels(&mut out, &mut extra).unwrap() {
        Poll::Reset(ResetCause::Reinitialised { what }) => {
            assert_eq!(what, "the write offset went back from 5 to 1")
        }
        other => panic!("{other:?}"),
    }
    assert!(out.is_empty() && extra[0].is_empty());
    assert_eq!(rtt.up_offsets(reader.memory(), 0), (6, 0));
}

#[test]
fn a_blocking_extra_channel_is_left_non_blocking() {
    let mut memory = SimMemory::new();
    memory.add_ram(RAM, RAM_SIZE);
    let rtt = SimRtt::builder(CB)
        .up("tracing", 64)
        .up_with_mode("defmt", 32, ChannelMode::BlockIfFull)
        .build(&mut memory);
    rtt.init(&mut memory);
    let mut reader = attached(memory, with_defmt());
    reader.close().unwrap();
    assert_eq!(rtt.up_mode(reader.memory(), 1), ChannelMode::NoBlockSkip);
    assert_eq!(rtt.up_mode(reader.memory(), 0), ChannelMode::NoBlockSkip);
}

proptest! {
    /// Two streams written in any pieces, drained by polls that fall anywhere: each arrives
    /// whole and in order in its own buffer.
    #[test]
    fn two_streams_arrive_whole(
        ring in 2u32..40,
        steps in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..30), prop::collection::vec(any::<u8>(), 0..30), 1usize..64),
            1..30,
        ),
    ) {
        let (memory, rtt) = two_streams(ring);
        let mut reader = attached(memory, with_defmt());
        rtt.set_up_mode(reader.memory_mut(), 0, ChannelMode::NoBlockTrim);
        rtt.set_up_mode(reader.memory_mut(), 2, ChannelMode::NoBlockTrim);
        let (mut written, mut written_defmt) = (Vec::new(), Vec::new());
        let (mut read, mut read_defmt) = (Vec::new(), Vec::new());
        for (data, defmt, max) in steps {
            let n = rtt.write_up(reader.memory_mut(), 0, &data);
            written.extend_from_slice(&data[..n]);
            let n = rtt.write_up(reader.memory_mut(), 2, &defmt);
            written_defmt.extend_from_slice(&defmt[..n]);
            reader.options.max_poll_bytes = max;
            let (a, b) = poll_both(&mut reader);
            read.extend(a);
            read_defmt.extend(b);
        }
        reader.options.max_poll_bytes = usize::MAX;
        let (a, b) = poll_both(&mut reader);
        read.extend(a);
        read_defmt.extend(b);
        prop_assert_eq!(read, written);
        prop_assert_eq!(read_defmt, written_defmt);
    }
}
