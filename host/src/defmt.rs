//! defmt side by side: the lines a firmware logs with [defmt](https://defmt.ferrous-systems.com)
//! on an RTT up channel of its own, decoded on the host and relayed as `tracing` events under the
//! target [`defmt`](DEFMT_TARGET), among the spans and events of rtt-tunnel's channel.
//!
//! A firmware that already logs with defmt keeps doing so: rtt-target's `defmt` feature puts
//! defmt's logger on one up channel (`rtt_target::set_defmt_channel`) and the rtt-tunnel sender
//! takes another, in the same control block. defmt sends indices into a table that stays in the
//! firmware's ELF (its `.defmt` section); [`DefmtTable`] reads it with `defmt-decoder` 1.x
//! (defmt's wire format 4: defmt 1.x, and defmt 0.3.100 and later, which rtt-target 0.6's
//! `defmt` feature resolves to), and a [`DefmtDecoder`] turns the channel's bytes into
//! [`DefmtLine`]s.
//!
//! A [`Session`](crate::session::Session) made [`with_defmt`](crate::session::Session::with_defmt)
//! drains both channels in one poll and relays each line as an event of its own call site
//! (target `defmt`, the level of the defmt macro, `INFO` for `println!`, the log statement's
//! file, line and module when the ELF has debug info; the message as the `message` field), at
//! its time on the target:
//!
//! - **defmt timestamps in time units** (`defmt::timestamp!("{=u64:us}", …)` or `{=u32:ms}`):
//!   the line's time is its timestamp, read as time since boot, and the line is relayed in
//!   time order among the tracing frames of the same poll, inside the spans the target had
//!   entered then (as a `tracing` event logged there would be). Give defmt the clock the
//!   tunnel uses, so that both count from the same boot.
//! - **no timestamp, or one in other units**: the line is relayed after the tracing frames of
//!   the same poll, at the time of the last of them, as a root event (where it was logged is
//!   not known); a timestamp is shown as the field `timestamp`.
//!
//! Lines of one poll are in their channel's order either way. Over a link that halts the core
//! for a poll (GDB) every line of a poll was logged before every frame of the next poll; over
//! a probe, which reads the two rings one after the other while the core runs, the order
//! between the two channels is exact up to the few microseconds between those two reads.
//!
//! ```no_run
//! use rtt_tunnel_host::defmt::{DefmtDecoder, DefmtTable};
//! use rtt_tunnel_host::elf::FirmwareElf;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let elf = FirmwareElf::read("firmware.elf")?;
//! let table = DefmtTable::from_elf(&elf)?.expect("the firmware logs with defmt");
//! let mut decoder = DefmtDecoder::new(table);
//! let mut lines = Vec::new();
//! decoder.feed(&[/* bytes drained from the defmt channel */], &mut lines);
//! for line in lines {
//!     match line {
//!         Ok(line) => println!("{:?} {}", line.level, line.message),
//!         Err(error) => eprintln!("{error}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;
use std::path::PathBuf;

use defmt_decoder::{DecodeError, Encoding, Locations, StreamDecoder, Table};
use defmt_parser::{DisplayHint, Fragment, ParserMode, TimePrecision, Type};
use object::Object;
use rtt_tunnel_protocol::{Kind, Level};
use tracing_core::field::Value;
use tracing_core::Event;

use crate::elf::FirmwareElf;
use crate::receiver::{intern_callsite, CallSiteView, RemoteCallsite};
use crate::target_time::TargetTime;

/// The target of the events relayed from defmt lines.
pub const DEFMT_TARGET: &str = "defmt";

/// The RTT up channel name defmt's logger conventionally gets (rtt-target's examples,
/// `rtt_target::rtt_init_defmt!`).
pub const DEFMT_CHANNEL: &str = "defmt";

/// Why the defmt table could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DefmtError {
    /// The `.defmt` section is there but `defmt-decoder` cannot use it.
    #[error("the defmt table of {path} cannot be read: {reason} (this host decodes defmt's wire format 4: defmt 1.x, or 0.3.100 and later)")]
    Table {
        /// The ELF.
        path: PathBuf,
        /// What `defmt-decoder` said.
        reason: String,
    },
}

/// How the firmware's defmt timestamps read, from the format of its `defmt::timestamp!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// No `defmt::timestamp!`.
    None,
    /// One integer of microseconds (`{=u64:us}`).
    Micros,
    /// One integer of milliseconds (`{=u32:ms}`).
    Millis,
    /// Anything else: shown as text, not used as the line's time.
    Other,
}

impl TimestampFormat {
    /// The kind of the timestamp format string `format` (`{=u64:us}`).
    pub fn of(format: &str) -> Self {
        let Ok(fragments) = defmt_parser::parse(format, ParserMode::ForwardsCompatible) else {
            return TimestampFormat::Other;
        };
        let [Fragment::Parameter(parameter)] = fragments.as_slice() else {
            return TimestampFormat::Other;
        };
        if !matches!(
            parameter.ty,
            Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::Usize
        ) {
            return TimestampFormat::Other;
        }
        match parameter.hint {
            Some(DisplayHint::Seconds(TimePrecision::Micros)) => TimestampFormat::Micros,
            Some(DisplayHint::Seconds(TimePrecision::Millis)) => TimestampFormat::Millis,
            _ => TimestampFormat::Other,
        }
    }

    /// Microseconds since boot from a timestamp `defmt-decoder` displayed in this format
    /// (`12.000345` for `:us`, `12.345` for `:ms`).
    fn micros(self, shown: &str) -> Option<u64> {
        let (digits, scale) = match self {
            TimestampFormat::Micros => (6, 1),
            TimestampFormat::Millis => (3, 1000),
            TimestampFormat::None | TimestampFormat::Other => return None,
        };
        let (whole, fraction) = shown.split_once('.')?;
        if fraction.len() != digits || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: u64 = whole.parse().ok()?;
        let fraction: u64 = fraction.parse().ok()?;
        let per_second = 1_000_000 / scale;
        whole
            .checked_mul(per_second)?
            .checked_add(fraction)?
            .checked_mul(scale)
    }
}

/// A firmware's defmt table: the format strings of its log statements, their levels and
/// (when the ELF has debug info) their locations.
pub struct DefmtTable {
    table: Table,
    locations: Locations,
    timestamp: TimestampFormat,
}

impl fmt::Debug for DefmtTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefmtTable")
            .field("statements", &self.statements())
            .field("locations", &self.locations.len())
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

impl DefmtTable {
    /// The defmt table of the firmware `elf`: `Ok(None)` when the firmware logs nothing with
    /// defmt (no `.defmt` section, or one without log statements).
    ///
    /// # Errors
    ///
    /// A table `defmt-decoder` cannot read (another defmt wire format, say).
    pub fn from_elf(elf: &FirmwareElf) -> Result<Option<Self>, DefmtError> {
        // defmt's linker script makes the `.defmt` section; a firmware that links the defmt
        // crate without logging (and without `defmt.x`) has at most an orphan `.defmt.end`,
        // which `defmt-decoder` would take for a broken table.
        let has_table = object::File::parse(elf.data())
            .is_ok_and(|file| file.section_by_name(".defmt").is_some());
        if !has_table {
            return Ok(None);
        }
        let table = Table::parse(elf.data()).map_err(|error| DefmtError::Table {
            path: elf.path().to_owned(),
            reason: format!("{error:#}"),
        })?;
        let Some(table) = table else {
            return Ok(None);
        };
        if table.indices().next().is_none() {
            return Ok(None);
        }
        // Locations need debug info; without it lines have none.
        let locations = table.get_locations(elf.data()).unwrap_or_default();
        Ok(Some(Self::new(table, locations)))
    }

    /// A table from its parts (what [`from_elf`](Self::from_elf) reads).
    pub fn new(table: Table, locations: Locations) -> Self {
        let timestamp = timestamp_format(&table)
            .map_or(TimestampFormat::None, |format| TimestampFormat::of(&format));
        DefmtTable {
            table,
            locations,
            timestamp,
        }
    }

    /// How many log statements (`info!`, `println!`, ...) the table has.
    pub fn statements(&self) -> usize {
        self.table.indices().count()
    }

    /// How the firmware's timestamps read.
    pub fn timestamp_format(&self) -> TimestampFormat {
        self.timestamp
    }
}

/// The format of the table's `defmt::timestamp!`, from the table's serialised form (the table
/// keeps it private).
fn timestamp_format(table: &Table) -> Option<String> {
    let value = serde_json::to_value(table).ok()?;
    value
        .get("timestamp")?
        .get("string")?
        .get("string")?
        .as_str()
        .map(str::to_owned)
}

/// One line a firmware logged with defmt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefmtLine {
    /// The log statement's index in the table (its call site).
    pub index: u64,
    /// Its level; `None` for `println!`.
    pub level: Option<defmt_parser::Level>,
    /// The message, formatted.
    pub message: String,
    /// The timestamp as the firmware formats it, if it has `defmt::timestamp!`.
    pub timestamp: Option<String>,
    /// The timestamp in microseconds since boot, when its format is a time
    /// ([`TimestampFormat::Micros`] or [`Millis`](TimestampFormat::Millis)).
    pub micros: Option<u64>,
}

/// A run of bytes on the defmt channel that is not a defmt frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bytes on the defmt channel that are not a defmt frame of this ELF's table (bytes lost, the host attached in the middle of a frame, or the ELF is not the running firmware); decoding goes on at the next frame")]
pub struct DefmtFrameError;

/// Decodes the bytes of a defmt channel, chunk by chunk, into [`DefmtLine`]s.
pub struct DefmtDecoder {
    table: &'static DefmtTable,
    stream: Box<dyn StreamDecoder + Send + Sync + 'static>,
}

impl fmt::Debug for DefmtDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefmtDecoder")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DefmtDecoder {
    /// A decoder of `table`'s frames. The table is leaked (one per firmware, for the life of
    /// the process): the stream decoder of `defmt-decoder` borrows it.
    pub fn new(table: DefmtTable) -> Self {
        let table: &'static DefmtTable = Box::leak(Box::new(table));
        DefmtDecoder {
            table,
            stream: table.table.new_stream_decoder(),
        }
    }

    /// The table.
    pub fn table(&self) -> &'static DefmtTable {
        self.table
    }

    /// Decodes the frames `bytes` complete (a frame they start waits for the next call) and
    /// appends them to `out`, with an error for each run of bytes that is not a frame.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Result<DefmtLine, DefmtFrameError>>) {
        self.stream.received(bytes);
        loop {
            match self.stream.decode() {
                Ok(frame) => {
                    let timestamp = frame.display_timestamp().map(|t| t.to_string());
                    let micros = timestamp
                        .as_deref()
                        .and_then(|t| self.table.timestamp.micros(t));
                    out.push(Ok(DefmtLine {
                        index: frame.index(),
                        level: frame.level(),
                        message: frame.display_message().to_string(),
                        timestamp,
                        micros,
                    }));
                }
                Err(DecodeError::UnexpectedEof) => break,
                Err(DecodeError::Malformed) => {
                    out.push(Err(DefmtFrameError));
                    // rzCOBS drops the bad frame and goes on at the next; raw frames have no
                    // delimiter to resynchronise on: drop what is buffered.
                    if self.table.table.encoding() == Encoding::Raw {
                        self.reset();
                    }
                }
            }
        }
    }

    /// Forgets a frame begun and not finished (the target reset).
    pub fn reset(&mut self) {
        self.stream = self.table.table.new_stream_decoder();
    }
}

/// Relays defmt lines as `tracing` events: one leaked call site per log statement.
#[derive(Default)]
pub(crate) struct DefmtEvents {
    callsites: HashMap<u64, &'static RemoteCallsite>,
}

impl fmt::Debug for DefmtEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefmtEvents")
            .field("callsites", &self.callsites.len())
            .finish()
    }
}

impl DefmtEvents {
    /// Relays `line` as an event at `time`, inside the host span `parent` (`None`: a root),
    /// into the current dispatcher. Returns false when no call site could be made (the leak
    /// limit).
    pub(crate) fn relay(
        &mut self,
        table: &DefmtTable,
        line: &DefmtLine,
        time: TargetTime,
        parent: Option<tracing_core::span::Id>,
    ) -> bool {
        let Some(callsite) = self.callsite(table, line) else {
            return false;
        };
        let meta = callsite.metadata();
        // A line relayed between two frames is not in the context of the frame before it.
        let _time = crate::target_time::set_current_host(time);
        let enabled = tracing_core::dispatcher::get_default(|dispatch| dispatch.enabled(meta));
        if !enabled {
            return true;
        }
        let fields = callsite.fields();
        let message = format_args!("{}", line.message);
        let dispatch = tracing_core::dispatcher::get_default(Clone::clone);
        match (&line.timestamp, fields) {
            (Some(timestamp), [message_field, timestamp_field]) => {
                let timestamp = format_args!("{timestamp}");
                let values: [(&tracing_core::Field, Option<&dyn Value>); 2] = [
                    (message_field, Some(&message)),
                    (timestamp_field, Some(&timestamp)),
                ];
                let values = meta.fields().value_set(&values);
                dispatch.event(&Event::new_child_of(parent, meta, &values));
            }
            (_, [message_field, ..]) => {
                let values: [(&tracing_core::Field, Option<&dyn Value>); 1] =
                    [(message_field, Some(&message))];
                let values = meta.fields().value_set(&values);
                dispatch.event(&Event::new_child_of(parent, meta, &values));
            }
            (_, []) => {}
        }
        true
    }

    fn callsite(
        &mut self,
        table: &DefmtTable,
        line: &DefmtLine,
    ) -> Option<&'static RemoteCallsite> {
        if let Some(&callsite) = self.callsites.get(&line.index) {
            return Some(callsite);
        }
        let location = table.locations.get(&line.index);
        let file = location.map(|l| l.file.display().to_string());
        let name = match (&file, location) {
            (Some(file), Some(location)) => format!("event {file}:{}", location.line),
            _ => "defmt event".to_owned(),
        };
        // A timestamp that is not a time is shown as a field.
        let fields: &[&str] = if table.timestamp == TimestampFormat::Other {
            &["message", "timestamp"]
        } else {
            &["message"]
        };
        let view = CallSiteView {
            kind: Kind::Event,
            level: level(line.level),
            name: &name,
            target: DEFMT_TARGET,
            module_path: location.map(|l| l.module.as_str()),
            file: file.as_deref(),
            line: location.and_then(|l| u32::try_from(l.line).ok()),
            fields: fields.to_vec(),
        };
        let callsite = intern_callsite(&view).ok()?;
        self.callsites.insert(line.index, callsite);
        Some(callsite)
    }
}

/// The time of a line with a timestamp in time units, on `now`'s boot.
pub(crate) fn line_time(micros: u64, now: TargetTime) -> TargetTime {
    TargetTime {
        ticks: i64::try_from(micros).unwrap_or(i64::MAX),
        tick_hz: NonZeroU64::new(1_000_000),
        ..now
    }
}

/// defmt's levels as tracing's; `println!` has none and is `INFO`.
fn level(level: Option<defmt_parser::Level>) -> Level {
    match level {
        Some(defmt_parser::Level::Trace) => Level::Trace,
        Some(defmt_parser::Level::Debug) => Level::Debug,
        Some(defmt_parser::Level::Info) | None => Level::Info,
        Some(defmt_parser::Level::Warn) => Level::Warn,
        Some(defmt_parser::Level::Error) => Level::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table as `defmt-decoder` reads it from an ELF, built from its serialised form: log
    /// statements 0 (`info!("hello {=u8}")`), 1 (`warn!("warn {=u32}")`) and 2
    /// (`println!("plain")`), with `timestamp` as the timestamp format.
    pub(crate) fn table(timestamp: Option<&str>, encoding: &str) -> Table {
        let entry = |tag: &str, string: &str| {
            serde_json::json!({
                "string": { "tag": tag, "string": string },
                "raw_symbol": format!("{{\"tag\":\"{tag}\"}}"),
            })
        };
        serde_json::from_value(serde_json::json!({
            "timestamp": timestamp.map(|t| entry("Timestamp", t)),
            "entries": {
                "0": entry("Info", "hello {=u8}"),
                "1": entry("Warn", "warn {=u32}"),
                "2": entry("Println", "plain"),
            },
            "bitflags": {},
            "encoding": encoding,
        }))
        .expect("defmt-decoder's Table deserialises from this shape")
    }

    /// The raw bytes of one frame: index, the timestamp (u64 µs) if any, the arguments.
    pub(crate) fn raw_frame(index: u16, micros: Option<u64>, args: &[u8]) -> Vec<u8> {
        let mut out = index.to_le_bytes().to_vec();
        if let Some(micros) = micros {
            out.extend_from_slice(&micros.to_le_bytes());
        }
        out.extend_from_slice(args);
        out
    }

    /// rzCOBS, as defmt's encoder writes a frame (after the one leading separator).
    pub(crate) fn rzcobs(frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut run, mut zeros) = (0u8, 0u8);
        for &byte in frame {
            if run < 7 {
                if byte == 0 {
                    zeros |= 1 << run;
                } else {
                    out.push(byte);
                }
                run += 1;
                if run == 7 && zeros != 0 {
                    out.push(zeros);
                    (run, zeros) = (0, 0);
                }
            } else if byte == 0 {
                out.push((run - 7) | 0x80);
                (run, zeros) = (0, 0);
            } else {
                out.push(byte);
                run += 1;
                if run == 134 {
                    out.push(0xff);
                    (run, zeros) = (0, 0);
                }
            }
        }
        match run {
            0 => {}
            1..=6 => out.push((zeros | (0xff << run)) & 0x7f),
            _ => out.push((run - 7) | 0x80),
        }
        out.push(0);
        out
    }

    fn decode_all(decoder: &mut DefmtDecoder, bytes: &[u8], piece: usize) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in bytes.chunks(piece) {
            decoder.feed(chunk, &mut out);
        }
        out.into_iter()
            .map(|line| match line {
                Ok(line) => format!(
                    "{} {:?} {} {:?} {:?}",
                    line.index, line.level, line.message, line.timestamp, line.micros
                ),
                Err(error) => format!("error: {error}"),
            })
            .collect()
    }

    #[test]
    fn frames_in_any_pieces_become_lines_with_their_times() {
        let table = DefmtTable::new(table(Some("{=u64:us}"), "Rzcobs"), Locations::new());
        assert_eq!(table.timestamp_format(), TimestampFormat::Micros);
        assert_eq!(table.statements(), 3);
        let mut stream = vec![0u8];
        stream.extend(rzcobs(&raw_frame(0, Some(1_000_002), &[7])));
        stream.extend(rzcobs(&raw_frame(1, Some(3_000_000), &[0, 1, 0, 0])));
        stream.extend(rzcobs(&raw_frame(2, Some(0), &[])));
        let mut decoder = DefmtDecoder::new(table);
        let expected = [
            "0 Some(Info) hello 7 Some(\"1.000002\") Some(1000002)",
            "1 Some(Warn) warn 256 Some(\"3.000000\") Some(3000000)",
            "2 None plain Some(\"0.000000\") Some(0)",
        ];
        for piece in [1, 2, 5, stream.len()] {
            decoder.reset();
            assert_eq!(
                decode_all(&mut decoder, &stream, piece),
                expected,
                "piece {piece}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_and_decoding_goes_on() {
        let table = DefmtTable::new(table(None, "Rzcobs"), Locations::new());
        assert_eq!(table.timestamp_format(), TimestampFormat::None);
        let mut stream = rzcobs(&raw_frame(9, None, &[])); // no such statement
        stream.extend(rzcobs(&raw_frame(0, None, &[42])));
        let mut decoder = DefmtDecoder::new(table);
        let lines = decode_all(&mut decoder, &stream, 3);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("error: bytes on the defmt channel"),
            "{lines:?}"
        );
        assert_eq!(lines[1], "0 Some(Info) hello 42 None None");
    }

    #[test]
    fn raw_frames_and_a_reset_in_the_middle_of_one() {
        let table = DefmtTable::new(table(Some("{=u32}"), "Raw"), Locations::new());
        assert_eq!(table.timestamp_format(), TimestampFormat::Other);
        let mut decoder = DefmtDecoder::new(table);
        let frame = |micros: u32| {
            let mut out = 0u16.to_le_bytes().to_vec();
            out.extend_from_slice(&micros.to_le_bytes());
            out.push(5);
            out
        };
        let first = frame(17);
        // Half a frame, then the target resets: the half is forgotten.
        let mut out = Vec::new();
        decoder.feed(&first[..3], &mut out);
        assert!(out.is_empty());
        decoder.reset();
        assert_eq!(
            decode_all(&mut decoder, &frame(18), 2),
            ["0 Some(Info) hello 5 Some(\"18\") None"]
        );
    }

    #[test]
    fn a_firmware_without_defmt_has_no_table() {
        let elf = FirmwareElf::parse(crate::elf::tests::tiny_elf(&[("_SEGGER_RTT", 0x2000_0000)]))
            .unwrap();
        assert!(DefmtTable::from_elf(&elf).unwrap().is_none());
    }

    #[test]
    fn timestamp_formats() {
        assert_eq!(TimestampFormat::of("{=u64:us}"), TimestampFormat::Micros);
        assert_eq!(TimestampFormat::of("{=u32:ms}"), TimestampFormat::Millis);
        assert_eq!(TimestampFormat::of("{=u32}"), TimestampFormat::Other);
        assert_eq!(TimestampFormat::of("{=u64:tus}"), TimestampFormat::Other);
        assert_eq!(
            TimestampFormat::of("{=u64:us} ticks"),
            TimestampFormat::Other
        );
        assert_eq!(TimestampFormat::of("{=i64:us}"), TimestampFormat::Other);
        assert_eq!(TimestampFormat::of("{=u64:us"), TimestampFormat::Other);
    }

    #[test]
    fn timestamps_as_micros() {
        assert_eq!(
            TimestampFormat::Micros.micros("12.000345"),
            Some(12_000_345)
        );
        assert_eq!(TimestampFormat::Millis.micros("12.345"), Some(12_345_000));
        assert_eq!(TimestampFormat::Micros.micros("0.000001"), Some(1));
        assert_eq!(TimestampFormat::Micros.micros("12.345"), None);
        assert_eq!(TimestampFormat::Millis.micros("1"), None);
        assert_eq!(TimestampFormat::Other.micros("1.000000"), None);
        assert_eq!(
            TimestampFormat::Micros.micros("99999999999999999.000000"),
            None
        );
    }
}
