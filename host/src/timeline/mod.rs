//! A timeline of what the target did, in target time, as a trace file the Perfetto UI
//! (ui.perfetto.dev), `chrome://tracing` and speedscope open.
//!
//! [`Timeline`] is a `tracing-subscriber` [`Layer`]: add it to the [`Sinks`] the receiver
//! relays into, and it writes every relayed span and event into a file of Chrome's
//! trace-event format (JSON array form) as they come:
//!
//! - **Tracks.** One process, "target", with one track (a "thread" of the format) for what
//!   ran in thread mode, tid 0, and one per exception handler that traced, tid = the
//!   exception number ([`target_time::current_exception`](crate::target_time)): named
//!   `SysTick`, `PendSV`, `HardFault`, ... for the core's exceptions, after the handler's
//!   symbol in the firmware's vector table for device interrupts when the ELF is given
//!   ([`Timeline::track_names`], [`FirmwareElf::exception_names`](crate::elf::FirmwareElf::exception_names)),
//!   else `IRQ<n>`.
//! - **Slices.** Each time a span is entered, a slice begins (`B`), and it ends when the span
//!   is exited (`E`): a span entered three times is three slices. The slice is named after
//!   the span, its category is the span's target, its arguments are the span's fields (with
//!   the values `record`ed before it was entered). A span exited while spans entered after it
//!   are still entered (not in stack order) ends those slices with it and begins them again
//!   just after, so that slices always nest.
//! - **Instants.** Each event is an instant on its track (`i`, scope thread), named after its
//!   message, with `level`, `target` and its fields as arguments.
//! - **Markers.** The receiver's own events (target [`rtt_tunnel`](RECEIVER_TARGET): target
//!   resets, frames the target dropped, frames that did not decode, ...) are global instants
//!   (`i`, scope global, category `rtt_tunnel`) across every track.
//! - **Counters.** [`Timeline::counter`] names a field; each numeric value of it, in an event
//!   or a span's fields, is a point of a counter track of that name (`C`).
//! - **Time.** Timestamps are the target's ([`target_time::current`](crate::target_time)),
//!   in microseconds with nanosecond digits, exactly from the ticks and the tick rate (a
//!   target that announced no rate: one tick is drawn as one microsecond). Time never goes
//!   back in the file: after a target reset the new boot is drawn after the end of the old
//!   one (the reset marker between them), and the few things the host relays without a
//!   target time get the last time seen.
//! - **The end.** [`TimelineHandle::finish`] ends every slice still open at the last time
//!   seen, with the argument `"unfinished": true`, adds a marker saying so, and closes the
//!   JSON array.
//!
//! The exporter streams: its memory is the spans that are alive (their fields, as the
//! registry holds them anyway) and the slices open on each track, never what was written, so
//! a capture of any length exports in bounded memory. It writes through a buffer; a write
//! that fails stops the timeline (and nothing else: the other sinks go on), is reported once
//! to the [`on_error`](Timeline::on_error) callback, and is returned by `finish`.
//!
//! ```
//! use rtt_tunnel_host::output::{Format, Output, Sinks};
//! use rtt_tunnel_host::timeline::Timeline;
//!
//! let path = std::env::temp_dir().join("rtt-tunnel-doc-timeline.json");
//! let (timeline, handle) = Timeline::create(&path)?.counter("uptime_ms").build();
//! let dispatch = Sinks::new()
//!     .with_output(&Output::new(Format::Compact))?
//!     .with(timeline)
//!     .dispatch();
//! tracing_core::dispatcher::with_default(&dispatch, || {
//!     // Relay frames with a `Receiver` here; finish before dropping it.
//! });
//! let stats = handle.finish()?;
//! assert_eq!(stats.slices, 0);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Sinks`]: crate::output::Sinks
//! [`Layer`]: tracing_subscriber::Layer

mod json;
mod layer;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use layer::TimelineLayer;

use crate::receiver::RECEIVER_TARGET;
use json::JsonArgs;

/// The process id of the target in the trace.
pub const TARGET_PID: u32 = 1;
/// The track (tid) of thread mode.
pub const THREAD_MODE_TID: u32 = 0;
/// The name of the thread-mode track.
pub const THREAD_MODE_TRACK: &str = "thread mode";
/// The argument that marks a slice ended by [`TimelineHandle::finish`] rather than by the
/// target.
pub const UNFINISHED_ARG: &str = "unfinished";

/// The timeline could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimelineError {
    /// The file could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Writing failed; the timeline stopped there (what was written before is in the file,
    /// without the end of the JSON array).
    #[error("cannot write {what}: {source}")]
    Write {
        /// The file's path, or `the timeline` for another writer.
        what: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

/// What a timeline holds, from [`TimelineHandle::finish`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineStats {
    /// Slices begun (span enters, not counting the re-begins of a slice that had to end for
    /// an out-of-order exit).
    pub slices: u64,
    /// Instants (the target's events).
    pub instants: u64,
    /// Markers (the receiver's events).
    pub markers: u64,
    /// Counter points.
    pub counter_points: u64,
    /// Slices still open at the end, ended by `finish`.
    pub unfinished: u64,
}

impl fmt::Display for TimelineStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} slices, {} instants, {} markers, {} counter points; {} slices still open at the end",
            self.slices, self.instants, self.markers, self.counter_points, self.unfinished
        )
    }
}

type ErrorCallback = Box<dyn FnMut(&TimelineError) + Send>;

/// Builds a timeline exporter. See the [module docs](self).
pub struct Timeline {
    out: Box<dyn Write + Send>,
    what: String,
    counters: Vec<String>,
    names: BTreeMap<u16, String>,
    on_error: Option<ErrorCallback>,
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("what", &self.what)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// A timeline written into `path` (created, or truncated).
    ///
    /// # Errors
    ///
    /// [`TimelineError::Create`] when the file cannot be created.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, TimelineError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|source| TimelineError::Create {
            path: path.to_owned(),
            source,
        })?;
        let mut timeline = Self::new(file);
        timeline.what = path.display().to_string();
        Ok(timeline)
    }

    /// A timeline written into `out` (buffered here).
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self {
            out: Box::new(out),
            what: "the timeline".into(),
            counters: Vec::new(),
            names: BTreeMap::new(),
            on_error: None,
        }
    }

    /// Makes the numeric values of the field `field` a counter track of that name.
    pub fn counter(mut self, field: impl Into<String>) -> Self {
        self.counters.push(field.into());
        self
    }

    /// Names for the exception handlers' tracks, by exception number (from
    /// [`FirmwareElf::exception_names`](crate::elf::FirmwareElf::exception_names)); an
    /// exception without one is named by [`exception_name`](crate::elf::exception_name).
    pub fn track_names(mut self, names: BTreeMap<u16, String>) -> Self {
        self.names = names;
        self
    }

    /// Called once, with the error, when a write fails (the timeline stops there; the other
    /// sinks go on).
    pub fn on_error(mut self, callback: impl FnMut(&TimelineError) + Send + 'static) -> Self {
        self.on_error = Some(Box::new(callback));
        self
    }

    /// The layer to add to the sinks, and the handle that finishes the file.
    pub fn build(self) -> (TimelineLayer, TimelineHandle) {
        let shared = Arc::new(Mutex::new(Writer::new(self)));
        (
            TimelineLayer::new(Arc::clone(&shared)),
            TimelineHandle { shared },
        )
    }
}

/// Finishes a timeline: see [`finish`](Self::finish).
#[derive(Debug)]
pub struct TimelineHandle {
    shared: Arc<Mutex<Writer>>,
}

impl TimelineHandle {
    /// Ends the slices still open at the last time seen (marked [`UNFINISHED_ARG`]), closes
    /// the JSON array and flushes. What the layer sees afterwards is not written. Call it
    /// before the receiver is dropped (which exits the target's spans), so that the spans the
    /// target left open are marked as such.
    ///
    /// # Errors
    ///
    /// The first write that failed, during the run or now.
    pub fn finish(&self) -> Result<TimelineStats, TimelineError> {
        lock(&self.shared).finish()
    }

    /// What was written so far.
    pub fn stats(&self) -> TimelineStats {
        lock(&self.shared).stats
    }
}

fn lock(shared: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A slice open on a track.
#[derive(Debug, Clone)]
struct OpenSlice {
    span: u64,
    name: &'static str,
}

/// Which track a thing happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Track(u32);

impl Track {
    pub(crate) const THREAD: Track = Track(THREAD_MODE_TID);

    /// The track of what ran in the context of the frame being relayed: thread mode when
    /// the frame was written there, or when the receiver relays on its own.
    pub(crate) fn current() -> Track {
        Track(u32::from(
            crate::target_time::current_exception().unwrap_or(0),
        ))
    }
}

/// The file and everything the exporter keeps: bounded by the open slices and track count.
pub(crate) struct Writer {
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    what: String,
    error: Option<TimelineError>,
    on_error: Option<ErrorCallback>,
    finished: bool,
    started: bool,
    pub(crate) counters: Vec<String>,
    names: BTreeMap<u16, String>,
    /// Target epoch of the last time seen.
    epoch: u64,
    /// Where the current epoch's tick 0 is drawn, in ns.
    base_ns: i128,
    /// The last time written, in ns.
    last_ns: u64,
    /// Open slices per track (index = tid), bottom first.
    stacks: Vec<(Track, Vec<OpenSlice>)>,
    stats: TimelineStats,
    line: Vec<u8>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("what", &self.what)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Writer {
    fn new(timeline: Timeline) -> Self {
        Self {
            out: Some(BufWriter::with_capacity(64 * 1024, timeline.out)),
            what: timeline.what,
            error: None,
            on_error: timeline.on_error,
            finished: false,
            started: false,
            counters: timeline.counters,
            names: timeline.names,
            epoch: 0,
            base_ns: 0,
            last_ns: 0,
            stacks: Vec::new(),
            stats: TimelineStats::default(),
            line: Vec::with_capacity(256),
        }
    }

    fn active(&self) -> bool {
        !self.finished && self.out.is_some()
    }

    /// The time to draw something at: the target time of the frame being relayed, or the last
    /// time for what has none; never before the last time.
    pub(crate) fn now(&mut self) -> u64 {
        if let Some(time) = crate::target_time::current() {
            if time.epoch != self.epoch {
                self.epoch = time.epoch;
                self.base_ns = i128::from(self.last_ns);
            }
            let ns = match time.tick_hz {
                Some(hz) => i128::from(time.ticks) * 1_000_000_000 / i128::from(hz.get()),
                None => i128::from(time.ticks) * 1_000,
            };
            let at = (self.base_ns + ns).clamp(0, i128::from(u64::MAX)) as u64;
            self.last_ns = self.last_ns.max(at);
        }
        self.last_ns
    }

    /// Writes one trace event (the JSON object in `self.line`, without the separator).
    fn emit(&mut self) {
        if !self.active() {
            self.line.clear();
            return;
        }
        let mut result = Ok(());
        if let Some(out) = self.out.as_mut() {
            let separator: &[u8] = if self.started { b",\n" } else { b"[\n" };
            result = out
                .write_all(separator)
                .and_then(|()| out.write_all(&self.line));
        }
        self.started = true;
        self.line.clear();
        if let Err(source) = result {
            self.fail(source);
        }
    }

    fn fail(&mut self, source: io::Error) {
        // Whatever is in the buffer is given up: the file stays as far as it got.
        if let Some(out) = self.out.take() {
            let (_, _) = out.into_parts();
        }
        let error = TimelineError::Write {
            what: self.what.clone(),
            source,
        };
        if let Some(callback) = self.on_error.as_mut() {
            callback(&error);
        }
        self.error = Some(error);
    }

    fn stack(&mut self, track: Track) -> &mut Vec<OpenSlice> {
        let index = match self.stacks.iter().position(|(t, _)| *t == track) {
            Some(index) => index,
            None => {
                self.name_track(track);
                self.stacks.push((track, Vec::new()));
                self.stacks.len() - 1
            }
        };
        &mut self.stacks[index].1
    }

    /// The metadata events that name the target process (once) and `track`.
    fn name_track(&mut self, track: Track) {
        if self.stacks.is_empty() {
            self.line.extend_from_slice(
                format!(
                    r#"{{"ph":"M","pid":{TARGET_PID},"tid":{THREAD_MODE_TID},"ts":0,"name":"process_name","args":{{"name":"target"}}}}"#
                )
                .as_bytes(),
            );
            self.emit();
        }
        let name = match track {
            Track::THREAD => THREAD_MODE_TRACK.to_string(),
            Track(n) => {
                let n = u16::try_from(n).unwrap_or(u16::MAX);
                self.names
                    .get(&n)
                    .cloned()
                    .unwrap_or_else(|| crate::elf::exception_name(n))
            }
        };
        self.line.extend_from_slice(
            format!(
                r#"{{"ph":"M","pid":{TARGET_PID},"tid":{},"ts":0,"name":"thread_name","args":{{"name":"#,
                track.0
            )
            .as_bytes(),
        );
        json::string(&mut self.line, &name);
        self.line.extend_from_slice(b"}}");
        self.emit();
        // Thread mode first in viewers that sort by this.
        self.line.extend_from_slice(
            format!(
                r#"{{"ph":"M","pid":{TARGET_PID},"tid":{},"ts":0,"name":"thread_sort_index","args":{{"sort_index":{}}}}}"#,
                track.0, track.0
            )
            .as_bytes(),
        );
        self.emit();
    }

    fn head(&mut self, ph: char, name: &str, category: &str, track: Track, ns: u64) {
        self.line.extend_from_slice(br#"{"ph":""#);
        let mut buf = [0; 4];
        self.line
            .extend_from_slice(ph.encode_utf8(&mut buf).as_bytes());
        self.line.extend_from_slice(br#"","name":"#);
        json::string(&mut self.line, name);
        self.line.extend_from_slice(br#","cat":"#);
        json::string(&mut self.line, category);
        self.line.extend_from_slice(
            format!(
                r#","pid":{TARGET_PID},"tid":{},"ts":{}.{:03}"#,
                track.0,
                ns / 1000,
                ns % 1000
            )
            .as_bytes(),
        );
    }

    /// A slice of `span` begins on `track`.
    pub(crate) fn begin(
        &mut self,
        track: Track,
        span: u64,
        name: &'static str,
        category: &str,
        args: &JsonArgs,
    ) {
        if !self.active() {
            return;
        }
        let ns = self.now();
        self.stats.slices += 1;
        self.write_begin(track, span, name, category, args, ns);
    }

    fn write_begin(
        &mut self,
        track: Track,
        span: u64,
        name: &'static str,
        category: &str,
        args: &JsonArgs,
        ns: u64,
    ) {
        self.stack(track).push(OpenSlice { span, name });
        self.head('B', name, category, track, ns);
        self.line.extend_from_slice(br#","args":"#);
        args.write(&mut self.line);
        self.line.push(b'}');
        self.emit();
    }

    fn write_end(&mut self, track: Track, name: &str, ns: u64, unfinished: bool) {
        self.line.extend_from_slice(br#"{"ph":"E","name":"#);
        json::string(&mut self.line, name);
        self.line.extend_from_slice(
            format!(
                r#","pid":{TARGET_PID},"tid":{},"ts":{}.{:03}"#,
                track.0,
                ns / 1000,
                ns % 1000
            )
            .as_bytes(),
        );
        if unfinished {
            self.line
                .extend_from_slice(format!(r#","args":{{"{UNFINISHED_ARG}":true}}"#).as_bytes());
        }
        self.line.push(b'}');
        self.emit();
    }

    /// The slice of `span` ends. Slices begun on its track after it end with it and begin
    /// again (`reopen` gives their name, category and arguments).
    pub(crate) fn end(
        &mut self,
        span: u64,
        mut reopen: impl FnMut(u64) -> Option<(&'static str, String, JsonArgs)>,
    ) {
        if !self.active() {
            return;
        }
        let Some((index, depth)) = self.stacks.iter().enumerate().find_map(|(i, (_, stack))| {
            stack
                .iter()
                .rposition(|open| open.span == span)
                .map(|d| (i, d))
        }) else {
            // Entered before the timeline began, or its slice already ended.
            return;
        };
        let ns = self.now();
        let track = self.stacks[index].0;
        let above: Vec<OpenSlice> = self.stacks[index].1.drain(depth + 1..).collect();
        for open in above.iter().rev() {
            self.write_end(track, open.name, ns, false);
        }
        if let Some(open) = self.stacks[index].1.pop() {
            self.write_end(track, open.name, ns, false);
        }
        for open in above {
            match reopen(open.span) {
                Some((name, category, args)) => {
                    self.write_begin(track, open.span, name, &category, &args, ns)
                }
                None => {
                    let args = JsonArgs::default();
                    self.write_begin(track, open.span, open.name, "", &args, ns)
                }
            }
        }
    }

    /// An instant on `track` (an event of the target), or a global marker (`track: None`).
    pub(crate) fn instant(
        &mut self,
        track: Option<Track>,
        name: &str,
        category: &str,
        args: &JsonArgs,
    ) {
        if !self.active() {
            return;
        }
        let ns = self.now();
        let drawn_on = track.unwrap_or(Track::THREAD);
        // The track is named before anything is drawn on it.
        self.stack(drawn_on);
        self.head('i', name, category, drawn_on, ns);
        match track {
            Some(_) => {
                self.stats.instants += 1;
                self.line.extend_from_slice(br#","s":"t","args":"#);
            }
            None => {
                self.stats.markers += 1;
                self.line.extend_from_slice(br#","s":"g","args":"#);
            }
        }
        args.write(&mut self.line);
        self.line.push(b'}');
        self.emit();
    }

    /// A point of the counter `name`.
    pub(crate) fn counter_point(&mut self, name: &str, value: &serde_json::Value) {
        if !self.active() {
            return;
        }
        let ns = self.now();
        self.stats.counter_points += 1;
        self.stack(Track::THREAD);
        self.head('C', name, "counter", Track::THREAD, ns);
        self.line.extend_from_slice(br#","args":{"#);
        json::string(&mut self.line, name);
        self.line.push(b':');
        json::value(&mut self.line, value);
        self.line.extend_from_slice(b"}}");
        self.emit();
    }

    fn finish(&mut self) -> Result<TimelineStats, TimelineError> {
        if !self.finished && self.out.is_some() {
            let ns = self.last_ns;
            let mut unfinished = 0;
            for index in 0..self.stacks.len() {
                let track = self.stacks[index].0;
                let open = std::mem::take(&mut self.stacks[index].1);
                for slice in open.iter().rev() {
                    self.write_end(track, slice.name, ns, true);
                    unfinished += 1;
                }
            }
            if unfinished > 0 {
                let mut args = JsonArgs::default();
                args.insert("slices", serde_json::Value::from(unfinished));
                let name = format!(
                    "end of the trace: {unfinished} slices still open, ended here and marked \"{UNFINISHED_ARG}\""
                );
                self.instant(None, &name, RECEIVER_TARGET, &args);
            }
            self.stats.unfinished = unfinished;
            if !self.started {
                self.line.extend_from_slice(b"[");
                if let Some(out) = self.out.as_mut() {
                    if let Err(source) = out.write_all(&self.line) {
                        self.line.clear();
                        self.fail(source);
                    }
                }
                self.line.clear();
                self.started = true;
            }
            let result = match self.out.as_mut() {
                Some(out) => out.write_all(b"\n]\n").and_then(|()| out.flush()),
                None => Ok(()),
            };
            if let Err(source) = result {
                self.fail(source);
            }
        }
        self.finished = true;
        match self.error.take() {
            Some(error) => {
                // Keep a copy for a second call.
                let copy = match &error {
                    TimelineError::Create { path, source } => TimelineError::Create {
                        path: path.clone(),
                        source: io::Error::new(source.kind(), source.to_string()),
                    },
                    TimelineError::Write { what, source } => TimelineError::Write {
                        what: what.clone(),
                        source: io::Error::new(source.kind(), source.to_string()),
                    },
                };
                self.error = Some(copy);
                Err(error)
            }
            None => Ok(self.stats),
        }
    }
}

#[cfg(test)]
mod tests;
