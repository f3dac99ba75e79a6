//! The target side of `cargo xtask bench`: runs the benchmark firmware of `boards/bench` in
//! QEMU and reads its ELF files, then writes what it measured as JSON for the xtask.
//!
//! 1. **Per operation** (`bench-tunnel`, `bench-defmt`, `bench-rprintln` on `mps2-an385`,
//!    Cortex-M3, and on `mps2-an386`, Cortex-M4F, under `-icount shift=10,align=off`): the firmware times its calls with the FPGA I/O
//!    COUNTER and prints the sums through semihosting (`bench_common::harness`). Then, in
//!    its wire phase, this program drains the RTT up channel through QEMU's gdbstub with the
//!    RTT reader, splits what it read into frames (0x00-delimited for rtt-tunnel and defmt,
//!    lines for rprintln), checks their number (and, for rtt-tunnel, decodes each one and
//!    checks its kind), and attributes them to the operations by their order.
//! 2. **Flash and RAM** of `size-tunnel`, `size-tracing-null`, `size-defmt` and `size-none`
//!    (thumbv7em-none-eabihf) from their allocated ELF sections, by crate, and their largest
//!    symbols; each is also run on `mps2-an386` and must exit 0.
//! 3. **Drain**: `drain-fill` fills a 4 KiB ring as fast as the host empties it; the RTT
//!    reader drains it with the [`Pacer`] (bytes per second), then the same connection reads
//!    the same number of bytes raw, in reads of the drain's mean size per poll, in one halt.
//!
//! ```text
//! cargo bench -p host-receiver --bench firmware -- [--boards DIR] [--out FILE]
//! ```
//!
//! `--boards`: the boards workspace's target directory (default `boards/target`), where
//! `cargo xtask bench` has built the firmware. Without `--out` the JSON goes to standard
//! output.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionIndex, SectionKind};
use rtt_tunnel_host::elf::FirmwareElf;
use rtt_tunnel_host::gdb::{GdbMemory, GdbOptions};
use rtt_tunnel_host::memory::{batch, TargetMemory};
use rtt_tunnel_host::qemu::{Qemu, QemuOptions, QemuOutput};
use rtt_tunnel_host::rtt::{ChannelMode, Pacer, Poll, RttOptions, RttReader};
use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, Message};
use serde_json::{json, Value};

/// The Cortex-M3 and Cortex-M4F boards of the board table.
const M3: &rtt_tunnel_boards::Board = &rtt_tunnel_boards::BOARDS[0];
const M4: &rtt_tunnel_boards::Board = &rtt_tunnel_boards::BOARDS[1];

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// QEMU's instruction counting: 2^10 ns of virtual time per instruction, as fast as the host
/// can (no alignment to real time).
const ICOUNT: &str = "shift=10,align=off";
/// How long any one firmware may run.
const PATIENCE: Duration = Duration::from_secs(180);
/// The operations' span steps, in the order of the firmware's span cycle.
const SPAN_STEPS: [&str; 4] = ["span_new", "span_enter", "span_exit", "span_close"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("firmware bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards/target");
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--boards" => boards = PathBuf::from(args.next().ok_or("--boards needs a path")?),
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a path")?)),
            // What `cargo bench` passes to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let m3 = boards.join(M3.target).join("release");
    let m4 = boards.join(M4.target).join("release");

    // Every logger on the Cortex-M3 and on the Cortex-M4F.
    let mut ops = serde_json::Map::new();
    let mut ops_m4f = serde_json::Map::new();
    for (logger, bin, split) in [
        ("rtt-tunnel", "bench-tunnel", Split::Tunnel),
        ("defmt", "bench-defmt", Split::Zero),
        ("rprintln", "bench-rprintln", Split::Lines),
    ] {
        eprintln!(
            "firmware bench: {bin} in QEMU ({}, -icount {ICOUNT})",
            M3.machine
        );
        ops.insert(
            logger.into(),
            per_operation(&m3.join(bin), M3.machine, Some(split))?,
        );
        eprintln!(
            "firmware bench: {bin} in QEMU ({}, -icount {ICOUNT})",
            M4.machine
        );
        ops_m4f.insert(
            logger.into(),
            per_operation(&m4.join(bin), M4.machine, Some(split))?,
        );
    }
    // rtt-tunnel in parts (Cortex-M3): tracing alone, and the sender without the copy into
    // the ring.
    let mut parts = serde_json::Map::new();
    for (part, bin) in [
        ("tracing-null", "bench-tracing-null"),
        ("sender-nolink", "bench-tunnel-nolink"),
    ] {
        eprintln!(
            "firmware bench: {bin} in QEMU ({}, -icount {ICOUNT})",
            M3.machine
        );
        parts.insert(part.into(), per_operation(&m3.join(bin), M3.machine, None)?);
    }

    let mut sizes = serde_json::Map::new();
    for (logger, bin) in [
        ("rtt-tunnel", "size-tunnel"),
        ("tracing-null", "size-tracing-null"),
        ("defmt", "size-defmt"),
        ("none", "size-none"),
    ] {
        eprintln!(
            "firmware bench: sections of {bin}, and a run on {}",
            M4.machine
        );
        sizes.insert(logger.into(), size(&m4.join(bin))?);
    }

    eprintln!(
        "firmware bench: drain-fill through the gdbstub ({})",
        M3.machine
    );
    let drain = drain(&m3.join("drain-fill"))?;

    let report = json!({
        "icount": ICOUNT,
        "ops": ops,
        "ops_m4f": ops_m4f,
        "parts": parts,
        "sizes": sizes,
        "drain": drain,
    });
    let text = serde_json::to_string_pretty(&report)?;
    match out {
        Some(path) => std::fs::write(&path, text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// How the bytes of a logger split into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// rtt-tunnel: COBS frames ending in 0x00, decoded and checked.
    Tunnel,
    /// defmt: rzCOBS frames ending in 0x00.
    Zero,
    /// rprintln: lines.
    Lines,
}

fn launch(elf: &Path, machine: &str, icount: bool) -> Result<(Qemu, GdbMemory)> {
    if !elf.is_file() {
        return Err(format!(
            "{} is missing: `cargo xtask bench` builds it (boards/bench)",
            elf.display()
        )
        .into());
    }
    let mut options = QemuOptions::new(elf)
        .machine(machine)
        .output(QemuOutput::Capture);
    if icount {
        options.extra_args = vec!["-icount".into(), ICOUNT.into()];
    }
    Ok(Qemu::launch(&options, GdbOptions::default())?)
}

/// Waits until the firmware has printed `line` (a whole line), or fails.
fn wait_for_line(qemu: &mut Qemu, line: &str, since: Instant) -> Result<()> {
    loop {
        if qemu.stdout().lines().any(|l| l == line) {
            return Ok(());
        }
        if let Some(code) = qemu.try_exit_code()? {
            return Err(format!(
                "the firmware exited ({code}) before printing `{line}`; it printed:\n{}{}",
                qemu.stdout(),
                qemu.stderr()
            )
            .into());
        }
        if since.elapsed() > PATIENCE {
            return Err(format!("no `{line}` from the firmware within {PATIENCE:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Drains up channel 0 until the firmware ends; returns everything read.
fn drain_until_exit(reader: &mut RttReader<GdbMemory>, since: Instant) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut pacer = Pacer::new(true).idle_max(Duration::from_millis(2));
    loop {
        if since.elapsed() > PATIENCE {
            return Err(format!("the wire phase did not end within {PATIENCE:?}").into());
        }
        let ring = reader.attachment().map_or(0, |a| a.up.size as usize);
        let got = match reader.poll(&mut bytes) {
            Ok(Poll::Data(n)) => n,
            Ok(Poll::Waiting | Poll::Attached(_)) => 0,
            Ok(other) => return Err(format!("unexpected {other:?} in the wire phase").into()),
            Err(error) if error.is_target_gone() => return Ok(bytes),
            Err(error) => return Err(error.into()),
        };
        std::thread::sleep(pacer.next(got, ring));
    }
}

/// One logger's benchmark: instructions per operation from the firmware's lines, bytes per
/// operation from the frames read off its ring.
/// Without `split`, the firmware only times its calls (a part of a logger): no wire phase.
fn per_operation(elf_path: &Path, machine: &str, split: Option<Split>) -> Result<Value> {
    let since = Instant::now();
    let elf = FirmwareElf::read(elf_path)?;
    let (mut qemu, gdb) = launch(elf_path, machine, true)?;
    wait_for_line(&mut qemu, "timed-done", since)?;
    let bytes = match split {
        Some(_) => {
            let mut reader = RttReader::new(gdb, RttOptions::from_elf(&elf)?);
            drain_until_exit(&mut reader, since)?
        }
        None => {
            drop(gdb);
            Vec::new()
        }
    };
    let code = qemu.wait(PATIENCE)?;
    let stdout = qemu.stdout();
    if code != 0 || !stdout.lines().any(|l| l == "wire-done") {
        return Err(format!("{} failed ({code}):\n{stdout}", elf_path.display()).into());
    }
    let lines = Lines::parse(&stdout)?;

    // Instructions: ticks per instruction from the nops, minus the empty bracket.
    let (nop_calls, nop_ticks, _) = lines.ticks("nop1000")?;
    let (empty_calls, empty_ticks, _) = lines.ticks("empty")?;
    let empty = empty_ticks as f64 / empty_calls as f64;
    let ticks_per_instruction = (nop_ticks as f64 / nop_calls as f64 - empty) / 1000.0;
    let mut instructions = serde_json::Map::new();
    let mut lost = 0;
    for op in ["event_none", "event_message", "event_u32", "event_three"]
        .into_iter()
        .chain(SPAN_STEPS)
    {
        let (calls, ticks, op_lost) = lines.ticks(op)?;
        let bracket = if op.starts_with("span_") {
            let (calls, ticks, _) = lines.ticks(&format!("empty_{op}"))?;
            ticks as f64 / calls as f64
        } else {
            empty
        };
        lost += op_lost;
        let per_call = (ticks as f64 / calls as f64 - bracket) / ticks_per_instruction;
        instructions.insert(op.into(), json!(per_call));
    }
    if lost != 0 || lines.dropped.unwrap_or(0) != 0 {
        return Err(format!(
            "{}: {lost} timed calls did not reach the ring, the logger dropped {:?} frames",
            elf_path.display(),
            lines.dropped
        )
        .into());
    }

    let mut result = json!({
        "elf": elf_path.display().to_string(),
        "clock_at_start": lines.clock,
        "ticks_per_instruction": ticks_per_instruction,
        "bracket_instructions": empty / ticks_per_instruction,
        "calls": lines.ticks("event_none")?.0,
        "instructions": instructions,
    });
    let Some(split) = split else {
        return Ok(result);
    };

    // Bytes: the frames read, attributed by order.
    let frames = split_frames(&bytes, split)?;
    let expected: usize = lines.wire.iter().map(|w| w.frames * w.calls).sum();
    if frames.len() != expected {
        return Err(format!(
            "{}: read {} frames ({} bytes) in the wire phase, the firmware wrote {expected}",
            elf_path.display(),
            frames.len(),
            bytes.len()
        )
        .into());
    }
    let mut sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut dt_lens: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut frames = frames.into_iter();
    for phase in &lines.wire {
        let steps = match phase.name.as_str() {
            "span" => &SPAN_STEPS[..],
            name => &[name][..],
        };
        if steps.len() != phase.frames {
            return Err(format!(
                "wire phase {} has {} frames per call",
                phase.name, phase.frames
            )
            .into());
        }
        for call in 0..phase.calls {
            for &op in steps {
                let frame = frames.next().expect("counted above");
                let dt_len = match split {
                    Split::Tunnel => check_tunnel_frame(op, frame)?,
                    _ => 0,
                };
                // The first call of a phase follows a wait for the host: not measured.
                if call > 0 {
                    sizes.entry(op.into()).or_default().push(frame.len());
                    dt_lens.entry(op.into()).or_default().push(dt_len);
                }
            }
        }
    }
    let mut wire = serde_json::Map::new();
    for (op, lengths) in sizes {
        let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
        let dt = dt_lens.get(&op).map_or(0.0, |d| {
            d.iter().sum::<usize>() as f64 / d.len().max(1) as f64
        });
        wire.insert(
            op,
            json!({
                "mean": mean,
                "dt_bytes": dt,
                "min": lengths.iter().min(),
                "max": lengths.iter().max(),
                "frames": lengths.len(),
            }),
        );
    }
    result["wire_bytes"] = Value::Object(wire);
    result["wire_total"] = json!(bytes.len());
    Ok(result)
}

/// One wire phase, as the firmware announced it.
#[derive(Debug)]
struct WirePhase {
    name: String,
    frames: usize,
    calls: usize,
}

/// What the per-operation firmware printed.
#[derive(Debug, Default)]
struct Lines {
    /// measurement → (calls, ticks, lost).
    ticks: BTreeMap<String, (u64, u64, u64)>,
    dropped: Option<u64>,
    clock: Option<u64>,
    wire: Vec<WirePhase>,
}

impl Lines {
    fn parse(stdout: &str) -> Result<Lines> {
        let mut lines = Lines::default();
        for line in stdout.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ticks", name, calls, ticks, lost] => {
                    lines.ticks.insert(
                        (*name).into(),
                        (calls.parse()?, ticks.parse()?, lost.parse()?),
                    );
                }
                ["dropped", n] => lines.dropped = Some(n.parse()?),
                ["clock", n] => lines.clock = Some(n.parse()?),
                ["wire", name, frames, calls] => lines.wire.push(WirePhase {
                    name: (*name).into(),
                    frames: frames.parse()?,
                    calls: calls.parse()?,
                }),
                _ => {}
            }
        }
        Ok(lines)
    }

    fn ticks(&self, name: &str) -> Result<(u64, u64, u64)> {
        self.ticks
            .get(name)
            .copied()
            .ok_or_else(|| format!("the firmware printed no `ticks {name}` line").into())
    }
}

/// Splits `bytes` into frames, each with its delimiter; fails on a trailing partial frame.
fn split_frames(bytes: &[u8], split: Split) -> Result<Vec<&[u8]>> {
    let delimiter = match split {
        Split::Tunnel | Split::Zero => 0,
        Split::Lines => b'\n',
    };
    let mut frames: Vec<&[u8]> = bytes.split_inclusive(|&b| b == delimiter).collect();
    if frames.last().is_some_and(|f| f.last() != Some(&delimiter)) {
        let partial = frames.pop().map_or(0, <[u8]>::len);
        return Err(format!("{partial} bytes after the last frame").into());
    }
    Ok(frames)
}

/// Checks that an rtt-tunnel frame decodes to what operation `op` sends; returns the bytes
/// its time delta takes (a zigzag varint).
fn check_tunnel_frame(op: &str, wire: &[u8]) -> Result<usize> {
    let mut splitter = FrameSplitter::<512>::new();
    let Feed::Frame { frame, .. } = splitter.feed(wire) else {
        return Err(format!("{op}: {wire:02x?} is not one frame").into());
    };
    let frame = Frame::decode(frame).map_err(|e| format!("{op}: {wire:02x?}: {e}"))?;
    let fits = matches!(
        (op, &frame.message),
        (
            "event_none" | "event_message" | "event_u32" | "event_three",
            Message::Event { .. }
        ) | ("span_new", Message::NewSpan { .. })
            | ("span_enter", Message::Enter(_))
            | ("span_exit", Message::Exit(_))
            | ("span_close", Message::Close(_))
    );
    if !fits {
        return Err(format!("{op}: the frame read is {:?}", frame.message).into());
    }
    let zigzag = ((frame.dt << 1) ^ (frame.dt >> 63)) as u64;
    Ok((64 - zigzag.leading_zeros() as usize).div_ceil(7).max(1))
}

/// Flash and RAM of a size build from its allocated sections, after a run that exits 0.
fn size(elf_path: &Path) -> Result<Value> {
    let data =
        std::fs::read(elf_path).map_err(|e| format!("cannot read {}: {e}", elf_path.display()))?;
    let file = object::File::parse(&*data)?;
    const SHF_WRITE: u64 = 0x1;
    const SHF_ALLOC: u64 = 0x2;
    const SHF_EXECINSTR: u64 = 0x4;
    let (mut text, mut rodata, mut data_, mut bss) = (0, 0, 0, 0);
    let mut sections = serde_json::Map::new();
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags } = section.flags() else {
            continue;
        };
        if sh_flags & SHF_ALLOC == 0 || section.size() == 0 {
            continue;
        }
        let size = section.size();
        let class = if sh_flags & SHF_EXECINSTR != 0 {
            text += size;
            "text"
        } else if sh_flags & SHF_WRITE == 0 {
            rodata += size;
            "rodata"
        } else if section.kind() == SectionKind::UninitializedData {
            bss += size;
            "bss"
        } else {
            data_ += size;
            "data"
        };
        sections.insert(
            section.name()?.into(),
            json!({ "size": size, "class": class }),
        );
    }
    // defmt compiles out what `DEFMT_LOG` does not enable: its debug statements must be there.
    let name = elf_path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains("defmt") {
        let debug = file
            .symbols()
            .filter(|s| {
                s.name()
                    .is_ok_and(|n| n.contains("\"tag\":\"defmt_debug\""))
            })
            .count();
        if debug == 0 {
            return Err(
                format!("{name} has no defmt debug statement: DEFMT_LOG not applied").into(),
            );
        }
    }
    let (mut qemu, _gdb) = launch(elf_path, M4.machine, false)?;
    let code = qemu.wait(Duration::from_secs(60))?;
    if code != 0 {
        return Err(format!("{name} exited with {code}: {}", qemu.stdout()).into());
    }
    Ok(json!({
        "elf": elf_path.display().to_string(),
        "by_crate": flash_by_crate(&file),
        "largest": largest_symbols(&file, 12),
        "text": text,
        "rodata": rodata,
        "data": data_,
        "bss": bss,
        "flash": text + rodata + data_,
        "ram": data_ + bss,
        "sections": sections,
    }))
}

/// The sections in flash (allocated, not writable: text and read-only data) and their bytes.
fn flash_sections(file: &object::File<'_>) -> (Vec<SectionIndex>, u64) {
    const SHF_WRITE: u64 = 0x1;
    const SHF_ALLOC: u64 = 0x2;
    let mut sections = Vec::new();
    let mut total = 0;
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags } = section.flags() else {
            continue;
        };
        if sh_flags & SHF_ALLOC != 0 && sh_flags & SHF_WRITE == 0 {
            sections.push(section.index());
            total += section.size();
        }
    }
    (sections, total)
}

/// Flash (text and read-only data) by crate, from the sizes of the ELF's symbols: the crate
/// is the first path segment of the (legacy or v0) mangled name, or the type's crate in an
/// `<T as Trait>` impl. Approximate: LTO inlines across crates, and what is inlined counts for
/// the function it landed in. Bytes of the sections that no symbol covers are `unnamed`.
fn flash_by_crate(file: &object::File<'_>) -> BTreeMap<String, u64> {
    let mut by_crate = BTreeMap::new();
    let (flash_sections, total) = flash_sections(file);
    let mut named = 0;
    for symbol in file.symbols() {
        let in_flash = symbol
            .section_index()
            .is_some_and(|index| flash_sections.contains(&index));
        if !in_flash || symbol.size() == 0 {
            continue;
        }
        let name = symbol.name().unwrap_or("");
        *by_crate.entry(crate_of(name)).or_insert(0) += symbol.size();
        named += symbol.size();
    }
    by_crate.insert("unnamed".into(), total.saturating_sub(named));
    by_crate
}

/// The `n` largest symbols in flash, largest first: `[name, bytes]`, the name demangled by
/// `rustc-demangle` (legacy and v0 manglings) in its alternate form, without the hash; a name
/// that is not a mangled Rust one as it is.
fn largest_symbols(file: &object::File<'_>, n: usize) -> Vec<(String, u64)> {
    let (flash, _) = flash_sections(file);
    let mut symbols: Vec<(String, u64)> = file
        .symbols()
        .filter(|s| s.size() > 0 && s.section_index().is_some_and(|i| flash.contains(&i)))
        .map(|s| {
            let name = rustc_demangle::demangle(s.name().unwrap_or(""));
            (format!("{name:#}"), s.size())
        })
        .collect();
    symbols.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    symbols.truncate(n);
    symbols
}

/// The crate a symbol belongs to, from its mangled name.
fn crate_of(symbol: &str) -> String {
    fn segment(mut s: &str) -> Option<&str> {
        let digits = s.chars().take_while(char::is_ascii_digit).count();
        let len: usize = s[..digits].parse().ok()?;
        s = &s[digits..];
        s.get(..len)
    }
    let name = if let Some(rest) = symbol.strip_prefix("_ZN") {
        // Legacy: `_ZN` then length-prefixed segments; an impl's segment is `_$LT$path..`.
        segment(rest).map(|first| {
            // `<&mut path::Type as Trait>`: the path after `<`, `&`, `mut `.
            let mut first = first.strip_prefix("_$LT$").unwrap_or(first);
            for prefix in ["$RF$", "mut$u20$", "const$u20$", "$BP$"] {
                first = first.strip_prefix(prefix).unwrap_or(first);
            }
            // `<T as path::Trait>` with a generic or primitive `T`: the trait's crate.
            if let Some((ty, tr)) = first.split_once("$u20$as$u20$") {
                if !ty.contains("..") {
                    first = tr;
                }
            }
            let end = first
                .find("..")
                .or_else(|| first.find('$'))
                .unwrap_or(first.len());
            first[..end].to_owned()
        })
    } else if symbol.starts_with("_R") {
        // v0: the first crate root is `C` + optional disambiguator `s<base62>_` + segment.
        symbol.find("Cs").and_then(|at| {
            let after = &symbol[at + 2..];
            let underscore = after.find('_')?;
            segment(&after[underscore + 1..]).map(str::to_owned)
        })
    } else if symbol.starts_with("_defmt") || symbol.starts_with("__defmt") {
        // defmt's global logger interface, `#[no_mangle]`: implemented by defmt-rtt.
        Some("defmt_rtt".into())
    } else if symbol.starts_with("__aeabi") || symbol.starts_with("__") {
        Some("compiler_builtins".into())
    } else if symbol.starts_with(".L") || symbol.is_empty() {
        Some("constants".into())
    } else {
        None
    };
    match name.as_deref() {
        Some("") | None => "other".into(),
        // `__rustc::rust_begin_unwind` and the like: the panic handler's entry points.
        Some(name) if name.starts_with("__") => "other".into(),
        Some(name) => name.to_owned(),
    }
}

/// Bytes drained untimed before the measured rounds (attach, the Pacer settling).
const DRAIN_WARM: usize = 64 * 1024;
/// Measured rounds: each drains a quarter of the rest, then reads as much raw.
const DRAIN_ROUNDS: usize = 4;

/// Polls until `received` holds `until` bytes; returns the polls that brought data.
fn drain_some(
    reader: &mut RttReader<GdbMemory>,
    received: &mut Vec<u8>,
    until: usize,
    pacer: &mut Pacer,
    since: Instant,
) -> Result<u64> {
    let mut data_polls = 0;
    while received.len() < until {
        if since.elapsed() > PATIENCE {
            return Err(format!("drained {} of {until} bytes", received.len()).into());
        }
        let ring = reader.attachment().map_or(0, |a| a.up.size as usize);
        let got = match reader.poll(received)? {
            Poll::Data(n) => n,
            Poll::Waiting | Poll::Attached(_) => 0,
            other => return Err(format!("unexpected {other:?} while draining").into()),
        };
        if got > 0 {
            data_polls += 1;
        }
        if received.len() < until {
            std::thread::sleep(pacer.next(got, ring));
        }
    }
    Ok(data_polls)
}

/// Drain throughput through the gdbstub against the raw read throughput of the same link,
/// in interleaved rounds so that both see the same load on the host.
fn drain(elf_path: &Path) -> Result<Value> {
    let since = Instant::now();
    let elf = FirmwareElf::read(elf_path)?;
    let (mut qemu, gdb) = launch(elf_path, M3.machine, false)?;
    let total: usize = loop {
        let stdout = qemu.stdout();
        // Whole lines only: the firmware prints this one in pieces.
        let mut lines = stdout.split_inclusive('\n').filter(|l| l.ends_with('\n'));
        if let Some(n) = lines.find_map(|l| l.strip_prefix("drain-total ")) {
            break n.trim().parse()?;
        }
        if since.elapsed() > PATIENCE {
            return Err("drain-fill printed no `drain-total`".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let options = RttOptions::from_elf(&elf)?.mode(ChannelMode::BlockIfFull);
    let mut reader = RttReader::new(gdb, options);
    let mut received = Vec::with_capacity(total);
    let mut pacer = Pacer::new(reader.memory().halts_in_batch());
    drain_some(&mut reader, &mut received, DRAIN_WARM, &mut pacer, since)?;
    let buffer = reader.attachment().ok_or("not attached")?.up.buffer;

    let (mut drained, mut drain_time, mut data_polls) = (0, Duration::ZERO, 0);
    let (mut raw, mut raw_time, mut halted_time) = (0, Duration::ZERO, Duration::ZERO);
    let polls_before = reader.stats().polls;
    let (mut drain_packets, mut raw_packets) = (0, 0);
    for round in 1..=DRAIN_ROUNDS {
        let until = DRAIN_WARM + (total - DRAIN_WARM) * round / DRAIN_ROUNDS;
        let before = received.len();
        let packets = reader.memory().client().stats().packets_sent;
        let start = Instant::now();
        let polls = drain_some(&mut reader, &mut received, until, &mut pacer, since)?;
        drain_time += start.elapsed();
        drain_packets += reader.memory().client().stats().packets_sent - packets;
        let bytes = received.len() - before;
        drained += bytes;
        data_polls += polls;

        // The same link, raw: as many bytes in reads of this round's mean size per poll,
        // first all in one halt, then each read in a halt of its own.
        let size = (bytes / polls.max(1) as usize).max(1);
        let reads = bytes.div_ceil(size);
        let mut buf = vec![0u8; size];
        let packets = reader.memory().client().stats().packets_sent;
        let start = Instant::now();
        batch(reader.memory_mut(), |memory| {
            for _ in 0..reads {
                memory.read(buffer, &mut buf)?;
            }
            Ok::<(), rtt_tunnel_host::memory::MemoryError>(())
        })?;
        raw_time += start.elapsed();
        raw_packets += reader.memory().client().stats().packets_sent - packets;
        let start = Instant::now();
        for _ in 0..reads {
            batch(reader.memory_mut(), |memory| memory.read(buffer, &mut buf))?;
        }
        halted_time += start.elapsed();
        raw += reads * size;
    }
    if received.len() != total {
        return Err(format!("drained {} bytes, expected {total}", received.len()).into());
    }
    if let Some(at) = (0..total).find(|&i| received[i] != (i % 251) as u8) {
        return Err(format!("drained byte {at} differs from the pattern").into());
    }
    // Polls of the measured rounds (the raw reads are not polls).
    let polls = reader.stats().polls - polls_before;
    let ring = reader.attachment().ok_or("not attached")?.up.size;
    reader.close()?;
    drop(reader);
    let code = qemu.wait(Duration::from_secs(30))?;
    if code != 0 {
        return Err(format!("drain-fill exited with {code}: {}", qemu.stdout()).into());
    }
    let drain_rate = drained as f64 / drain_time.as_secs_f64();
    let raw_rate = raw as f64 / raw_time.as_secs_f64();
    let halted_rate = raw as f64 / halted_time.as_secs_f64();
    Ok(json!({
        "ring": ring,
        "bytes": drained,
        "rounds": DRAIN_ROUNDS,
        "seconds": drain_time.as_secs_f64(),
        "bytes_per_second": drain_rate,
        "polls": polls,
        "packets_per_poll": drain_packets as f64 / polls.max(1) as f64,
        "data_polls": data_polls,
        "bytes_per_poll": drained as f64 / data_polls.max(1) as f64,
        "raw_bytes": raw,
        "raw_packets": raw_packets,
        "raw_bytes_per_second": raw_rate,
        "raw_halting_bytes_per_second": halted_rate,
        "ratio": drain_rate / raw_rate,
        "gdb_packets": drain_packets,
    }))
}
