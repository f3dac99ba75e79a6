//! The transport layer end to end: the `rtt-smoke` firmware (boards/qemu/src/bin/rtt_smoke.rs)
//! runs in QEMU; the host drains it through QEMU's gdbstub with the RTT reader and checks every
//! byte. Needs `qemu-system-arm` and the thumb targets: the tests fail, never skip, without them.

use std::time::{Duration, Instant};

use rtt_tunnel_host::elf::FirmwareElf;
use rtt_tunnel_host::gdb::{GdbMemory, GdbOptions};
use rtt_tunnel_host::memory::{batch, MemoryError, TargetMemory};
use rtt_tunnel_host::qemu::{Qemu, QemuError, QemuOptions, QemuOutput};
use rtt_tunnel_host::rtt::{
    ChannelMode, ChannelSelector, Pacer, Poll, RttError, RttOptions, RttReader,
};

use rtt_tunnel_tests::boards::{
    firmware_for_target as firmware, require_qemu, TARGET_MACHINES as BOARDS,
};

/// How long any one phase may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// The smoke firmware's pattern (mirrors `chunk_len` and `pattern` there).
fn smoke_pattern() -> Vec<u8> {
    const CHUNKS: u32 = 2000;
    let mut out = Vec::new();
    for j in 0..CHUNKS {
        let len = 1 + (j.wrapping_mul(37) % 97) as usize;
        for i in 0..len {
            out.push(
                (j.wrapping_mul(31) as u8).wrapping_add((i as u8).wrapping_mul(7)) ^ (j >> 8) as u8,
            );
        }
    }
    out
}

fn launch(target: &str, machine: &str) -> (Qemu, GdbMemory, FirmwareElf) {
    require_qemu();
    let elf_path = firmware("rtt-smoke", target);
    let elf = FirmwareElf::read(&elf_path).unwrap();
    let options = QemuOptions::new(&elf_path)
        .machine(machine)
        .output(QemuOutput::Capture);
    let (qemu, gdb) = Qemu::launch(&options, GdbOptions::default())
        .unwrap_or_else(|e| panic!("launching QEMU for {target}: {e}"));
    (qemu, gdb, elf)
}

fn smoke_options(elf: &FirmwareElf) -> RttOptions {
    RttOptions::from_elf(elf)
        .unwrap()
        .up_channel(ChannelSelector::name("smoke"))
        .down_channel(ChannelSelector::name("smoke"))
        .mode(ChannelMode::BlockIfFull)
}

/// Polls until `received` holds `len` bytes, paced as the CLI should; returns the time spent
/// since the first data.
fn drain_until<M: TargetMemory>(
    reader: &mut RttReader<M>,
    received: &mut Vec<u8>,
    len: usize,
    qemu: &Qemu,
) -> Duration {
    let start = Instant::now();
    let mut data_since = None;
    let mut pacer = Pacer::new(reader.memory().halts_in_batch());
    while received.len() < len {
        assert!(
            start.elapsed() < PATIENCE,
            "only {} of {len} bytes after {PATIENCE:?}; QEMU said: {}",
            received.len(),
            qemu.stderr()
        );
        let ring = reader.attachment().map_or(0, |a| a.up.size as usize);
        let bytes = match reader.poll(received) {
            Ok(Poll::Waiting | Poll::Attached(_)) => 0,
            Ok(Poll::Data(n)) => {
                data_since.get_or_insert_with(Instant::now);
                n
            }
            Ok(other) => panic!("unexpected {other:?} after {} bytes", received.len()),
            Err(error) => panic!(
                "poll failed after {} bytes: {error}; QEMU said: {}",
                received.len(),
                qemu.stderr()
            ),
        };
        if received.len() < len {
            std::thread::sleep(pacer.next(bytes, ring));
        }
    }
    data_since.map_or(Duration::ZERO, |t| t.elapsed())
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// The whole path on one board: attach by the ELF symbol, switch to blocking mode (the
/// firmware waits for it), drain ~100 KiB through a 1 KiB ring, echo a line through the down
/// channel, close (the firmware waits for non-blocking mode again), and exit 0.
fn smoke(target: &str, machine: &str) {
    let (mut qemu, gdb, elf) = launch(target, machine);
    let mut reader = RttReader::new(gdb, smoke_options(&elf));
    let pattern = smoke_pattern();
    let mut received = Vec::new();

    let took = drain_until(&mut reader, &mut received, pattern.len(), &qemu);
    let attachment = reader.attachment().expect("attached").clone();
    assert_eq!(Some(attachment.control_block), elf.rtt_control_block());
    assert_eq!((attachment.up.index, attachment.up.size), (1, 1024));
    assert_eq!(attachment.up.name.as_deref(), Some("smoke"));
    if let Some(at) = first_difference(&received, &pattern) {
        panic!(
            "byte {at} differs: got {:02x?}, expected {:02x?}",
            &received[at..(at + 8).min(received.len())],
            &pattern[at..(at + 8).min(pattern.len())]
        );
    }

    let line = b"ping 42\n";
    let mut sent = 0;
    let start = Instant::now();
    while sent < line.len() {
        assert!(start.elapsed() < PATIENCE, "the down channel stayed full");
        sent += reader.write_down(&line[sent..]).unwrap();
    }
    let mut expected = pattern.clone();
    expected.extend_from_slice(b"echo:ping 42\n");
    drain_until(&mut reader, &mut received, expected.len(), &qemu);
    assert_eq!(&received[pattern.len()..], b"echo:ping 42\n");

    let stats = reader.stats();
    let gdb_stats = reader.memory().client().stats();
    reader.close().unwrap();
    let code = qemu
        .wait(PATIENCE)
        .unwrap_or_else(|e| panic!("the firmware did not exit after close: {e}"));
    assert_eq!(
        code,
        0,
        "firmware exit code; it printed: {}{}",
        qemu.stdout(),
        qemu.stderr()
    );

    let rate = pattern.len() as f64 / took.as_secs_f64();
    eprintln!(
        "{machine}: drained {} bytes in {took:.2?} = {:.0} KiB/s over {} polls \
         ({} GDB packets sent, {} halts, {:.1} bytes per poll)",
        pattern.len(),
        rate / 1024.0,
        stats.polls,
        gdb_stats.packets_sent,
        gdb_stats.interrupts,
        stats.bytes_read as f64 / stats.polls as f64,
    );
}

#[test]
fn smoke_mps2_an385() {
    smoke(BOARDS[0].0, BOARDS[0].1);
}

#[test]
fn smoke_mps2_an386() {
    smoke(BOARDS[1].0, BOARDS[1].1);
}

#[test]
fn smoke_mps2_an505() {
    smoke(BOARDS[2].0, BOARDS[2].1);
}

/// Raw reads through the gdbstub, checked against the ELF: the vector table's first words
/// are the initial stack pointer and the reset handler. Then the link's raw read rate.
#[test]
fn raw_reads_match_the_elf_and_measure_the_link() {
    require_qemu();
    let (target, machine) = BOARDS[0];
    let elf_path = firmware("rtt-smoke", target);
    let elf = FirmwareElf::read(&elf_path).unwrap();
    let options = QemuOptions::new(&elf_path)
        .machine(machine)
        .output(QemuOutput::Capture);
    let gdb_options = GdbOptions {
        resume_after_connect: false,
        ..GdbOptions::default()
    };
    let (mut qemu, mut gdb) = Qemu::launch(&options, gdb_options).unwrap();
    let vectors = elf
        .symbol("__RESET_VECTOR")
        .expect("cortex-m-rt's vector table")
        - 4;
    let stack = elf.symbol("_stack_start").expect("cortex-m-rt's stack top");
    let reset = elf.symbol("Reset").expect("cortex-m-rt's reset handler");
    assert_eq!(gdb.read_u32(vectors).unwrap() as u64, stack);
    assert_eq!(
        gdb.read_u32(vectors + 4).unwrap() as u64,
        reset | 1,
        "thumb bit set"
    );

    // 256 KiB of RAM, over and over in 2 KiB packets.
    let ram = elf.ram_ranges()[0].start;
    let mut buf = vec![0u8; 256 * 1024];
    let start = Instant::now();
    batch(&mut gdb, |m| m.read(ram, &mut buf)).unwrap();
    let took = start.elapsed();
    let packets = gdb.client().stats().packets_sent;
    eprintln!(
        "{machine}: raw read of {} KiB in {took:.2?} = {:.0} KiB/s ({packets} packets)",
        buf.len() / 1024,
        buf.len() as f64 / 1024.0 / took.as_secs_f64()
    );
    // A halt/resume round trip, the fixed cost of every poll.
    gdb.client_mut().resume().unwrap();
    let start = Instant::now();
    for _ in 0..200 {
        batch(&mut gdb, |m| m.read_u32(ram)).unwrap();
    }
    eprintln!(
        "{machine}: halt + one read + resume: {:.0?} each",
        start.elapsed() / 200
    );
    drop(gdb);
    qemu.kill().unwrap();
}

/// Killing QEMU under the reader: a clear error, no panic, and `wait` says what happened.
#[test]
fn killing_qemu_is_a_clear_error() {
    let (target, machine) = BOARDS[0];
    let (mut qemu, gdb, elf) = launch(target, machine);
    let mut reader = RttReader::new(gdb, smoke_options(&elf));
    let mut received = Vec::new();
    drain_until(&mut reader, &mut received, 10_000, &qemu);

    qemu.kill().unwrap();
    let error = reader.poll(&mut received).unwrap_err();
    assert!(error.is_target_gone(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("the link to the target is lost"),
        "{message}"
    );
    let close = reader.close().unwrap_err();
    assert!(close.is_target_gone(), "{close}");
    drop(reader);
    let error = qemu.wait(Duration::from_secs(5)).unwrap_err();
    assert!(
        matches!(error, QemuError::Killed { signal: 9, .. }),
        "{error}"
    );
}

/// The firmware ends while the host is attached: the next poll says the target is gone.
#[test]
fn a_firmware_that_exits_ends_the_polls_cleanly() {
    let (target, machine) = BOARDS[0];
    let (mut qemu, mut gdb, elf) = launch(target, machine);
    let pattern = smoke_pattern();
    let mut received = Vec::new();
    {
        let mut reader = RttReader::new(&mut gdb, smoke_options(&elf));
        drain_until(&mut reader, &mut received, pattern.len(), &qemu);
        let mut sent = 0;
        while sent < 8 {
            sent += reader.write_down(&b"bye bye\n"[sent..]).unwrap();
        }
        drain_until(&mut reader, &mut received, pattern.len() + 13, &qemu);
        // Back to non-blocking: the firmware exits.
        reader.close().unwrap();
    }
    let options = RttOptions::from_elf(&elf)
        .unwrap()
        .up_channel(ChannelSelector::name("smoke"));
    let mut watcher = RttReader::new(&mut gdb, options);
    let start = Instant::now();
    let error = loop {
        assert!(
            start.elapsed() < PATIENCE,
            "the polls never noticed the exit"
        );
        match watcher.poll(&mut received) {
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            Err(error) => break error,
        }
    };
    assert!(error.is_target_gone(), "{error}");
    eprintln!("{machine}: the firmware's exit, as the next poll saw it: {error}");
    let exit_reported = matches!(
        &error,
        RttError::Memory(MemoryError::TargetExited { code: 0 } | MemoryError::Disconnected { .. })
    );
    assert!(exit_reported, "{error}");
    drop(watcher);
    assert_eq!(qemu.wait(PATIENCE).unwrap(), 0);
    assert_eq!(&received[pattern.len()..], b"echo:bye bye\n");
}
