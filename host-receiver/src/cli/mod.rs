//! The `host-receiver` command: drain a target's RTT channel and show its spans and events;
//! list probes and chips; replay recordings.
//!
//! [`args`] is the command line; [`source`] turns the target it names (QEMU, a GDB server, a
//! debug probe) into the library's `Target`, which the library opens; [`RunCmd::run`] drains
//! it through a [`Session`] into the terminal and prints a summary on standard error;
//! `serial` does the same for `--serial` through the library's `Drain`. The firmware ELF the
//! flags name is read once, and what needs it (the RTT control block, the defmt table, the
//! texts sent by reference, the timeline's track names, the image `run` flashes) gets the
//! parsed `FirmwareElf`. [`messages`] words the library's errors with the flags that fix
//! them. Standard output carries only what the target sent (and the receiver's own events
//! about it, at target times), so that a run and the replay of its recording print the same;
//! status lines go to standard error. Errors are `anyhow` chains whose messages say what to
//! do.

pub mod args;
pub mod messages;
pub mod runner;
#[cfg(feature = "serial")]
pub mod serial;
pub mod source;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rtt_tunnel_host::capture::{replay_with, summarize, CaptureReader, CaptureWriter};
use rtt_tunnel_host::defmt::{DefmtDecoder, DefmtTable};
use rtt_tunnel_host::elf::FirmwareElf;
use rtt_tunnel_host::memory::TargetMemory;
use rtt_tunnel_host::output::{Color, Format, Output, Sinks};
use rtt_tunnel_host::receiver::{Limits, Receiver};
use rtt_tunnel_host::rtt::{ChannelSelector, RttError, RttOptions, RttReader};
use rtt_tunnel_host::session::{RunEnd, RunOptions, Session, SessionError, SessionStats};
use rtt_tunnel_host::timeline::{Timeline, TimelineError, TimelineHandle, TimelineStats};
use rtt_tunnel_protocol::Request;

use args::{
    ChipsCmd, Cli, Command, DefmtMode, ListCmd, OutputArgs, ReplayCmd, RunCmd, TimelineArgs,
    DEFAULT_CHANNEL,
};
use rtt_tunnel_host::target::{Locate, OpenTarget};
use source::Source;

/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit status when host-receiver itself fails.
pub const EXIT_FAILURE: i32 = 2;
/// Exit status of `list` and `chips` when there is nothing to list.
#[cfg_attr(not(feature = "probe-rs"), allow(dead_code))]
pub const EXIT_NOTHING_LISTED: i32 = 1;

/// How long a probe link may fail in a row before the run gives up: a chip that resets, or
/// sleeps with its debug port off, stops answering for a moment.
const PROBE_RETRY: Duration = Duration::from_secs(3);

/// Parses the command line, runs it, and returns the process's exit status.
pub fn main() -> i32 {
    let cli = <Cli as clap::Parser>::parse();
    let result = match cli.command {
        None => cli.run.run(),
        Some(Command::List(list)) => list.run(),
        Some(Command::Chips(chips)) => chips.run(),
        Some(Command::Replay(replay)) => replay.run(),
        Some(Command::Run(runner)) => runner.run(),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", report(&error));
            EXIT_FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once (many errors already quote their
/// source in their own message), the library's in host-receiver's words
/// ([`messages::reword`]).
pub fn report(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = messages::reword(cause).unwrap_or_else(|| cause.to_string());
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Installs the output the options describe as the process's dispatcher: what the target
/// sends to standard output, probe-rs's own events to standard error, and the timeline file
/// (whose handle is returned, to finish it).
fn install_output(
    output: &OutputArgs,
    timeline: &TimelineArgs,
    elf: Option<&FirmwareElf>,
    panic_report: bool,
) -> Result<Option<TimelineHandle>> {
    let (target_filter, probe_filter) = output.filters();
    let stdout = Output::new(output.format.into())
        .filter(&target_filter)
        .color(output.color.into());
    let stderr_color = match output.color {
        args::ColorArg::Always => Color::Always,
        args::ColorArg::Auto | args::ColorArg::Never => Color::Never,
    };
    let stderr = Output::new(Format::Compact)
        .filter(&probe_filter)
        .color(stderr_color);
    let mut sinks = Sinks::new()
        .with_output(&stdout)?
        .with_output_to(&stderr, std::io::stderr)?;
    if panic_report {
        sinks = sinks.with(runner::panic_report());
    }
    let mut handle = None;
    if let Some(path) = &timeline.timeline {
        let mut exporter = Timeline::create(path)?.on_error(|error| {
            eprintln!("host-receiver: error: {}", messages::timeline(error));
        });
        for field in &timeline.counter {
            exporter = exporter.counter(field);
        }
        // The device interrupts' tracks are named after their handlers in the ELF.
        if let Some(elf) = elf {
            exporter = exporter.track_names(elf.exception_names());
        }
        let (layer, finish) = exporter.build();
        sinks = sinks.with(layer);
        handle = Some(finish);
    }
    tracing_core::dispatcher::set_global_default(sinks.dispatch())
        .context("cannot install the output (another tracing subscriber is installed)")?;
    Ok(handle)
}

/// After the summary: what the timeline holds, or why it is not whole (an error: exit
/// status 2).
fn timeline_done(result: Option<Result<TimelineStats, TimelineError>>) -> Result<()> {
    match result {
        None => Ok(()),
        Some(Ok(stats)) => {
            eprintln!("host-receiver: timeline: {stats}");
            Ok(())
        }
        Some(Err(error)) => Err(anyhow::Error::new(error)),
    }
}

/// The firmware ELF at `path`, read once for all that needs it (the RTT control block, the
/// defmt table, the texts sent by reference, the timeline's track names), when a run goes on
/// without it (a replay, a serial port): an ELF that does not read is said on standard error.
fn read_elf_or_warn(path: Option<&Path>) -> Option<FirmwareElf> {
    match FirmwareElf::read(path?) {
        Ok(elf) => Some(elf),
        Err(error) => {
            eprintln!(
                "host-receiver: warning: {}; going on without it",
                report(&anyhow::Error::new(error))
            );
            None
        }
    }
}

/// `receiver`, resolving the texts the target sends by reference from `elf`, if any (without
/// it, they come from target memory or a capture, or show as placeholders that say why).
fn with_flash_texts(receiver: Receiver, elf: Option<FirmwareElf>) -> Receiver {
    match elf {
        Some(elf) => receiver.with_flash_source(elf),
        None => receiver,
    }
}

/// The defmt decoder for the firmware `elf`, as `mode` asks: `None` when defmt lines are not
/// to be decoded (or, unless required, cannot be).
fn defmt_decoder(elf: Option<&FirmwareElf>, mode: DefmtMode) -> Result<Option<DefmtDecoder>> {
    if mode == DefmtMode::Off {
        return Ok(None);
    }
    let Some(elf) = elf else {
        if mode == DefmtMode::Required {
            bail!("--defmt needs the firmware ELF (--elf FILE): its `.defmt` section is the table that decodes defmt lines");
        }
        return Ok(None);
    };
    match (DefmtTable::from_elf(elf), mode) {
        (Ok(Some(table)), _) => Ok(Some(DefmtDecoder::new(table))),
        (Ok(None), DefmtMode::Required) => bail!(
            "{} has no defmt table (no `.defmt` section with log statements): the firmware does \
             not log with defmt, or was not linked with `-Tdefmt.x`",
            elf.path().display()
        ),
        (Ok(None), _) => Ok(None),
        (Err(error), DefmtMode::Required) => Err(error.into()),
        (Err(error), _) => {
            eprintln!(
                "host-receiver: warning: {}; defmt lines are not shown",
                report(&anyhow::Error::new(error))
            );
            Ok(None)
        }
    }
}

/// How a run ended, for the summary and the exit status.
#[derive(Debug)]
enum Ending {
    /// The firmware exited with this code.
    Exited(i32),
    /// Ctrl-C.
    Interrupted,
}

/// The defmt side of a run: the decoder, the channel, whether it is required.
type DefmtPlan = (DefmtDecoder, ChannelSelector, bool);

/// What is checked before the target is touched.
struct Checked {
    /// The reader's options from the ELF or `--ram` (`None`: the chip's RAM, once open).
    options: Option<RttOptions>,
    defmt: Option<DefmtPlan>,
    capture: Option<CaptureWriter<std::fs::File>>,
}

/// What a drain needs besides the link.
struct Drain {
    receiver: Receiver,
    options: RttOptions,
    requests: Vec<Request>,
    defmt: Option<DefmtPlan>,
    capture: Option<CaptureWriter<std::fs::File>>,
    run_options: RunOptions,
    limits: Limits,
}

impl RunCmd {
    /// Runs the command; returns the exit status. Parse (what the flags name, checked before
    /// the target is touched), call (the library opens the target and drains it), print (the
    /// summary, the exit status).
    pub fn run(self) -> Result<i32> {
        self.run_with_elf(None)
    }

    /// [`run`](Self::run), with the firmware ELF already read by the caller (`host-receiver
    /// run` reads it to flash it): when it is the file the command line names, it is not read
    /// again.
    pub fn run_with_elf(self, elf: Option<FirmwareElf>) -> Result<i32> {
        if let Some(port) = &self.source.serial {
            return self.run_serial(port);
        }
        let source = Source::from_args(&self.source, &self.probe)?;
        // Read once: the control block, the defmt table, the texts sent by reference and the
        // timeline's track names all come from it.
        let elf = match (source.elf(), elf) {
            (Some(path), Some(elf)) if elf.path() == path => Some(elf),
            (Some(path), _) => Some(FirmwareElf::read(path)?),
            (None, _) => None,
        };
        let timeline = install_output(
            &self.output,
            &self.timeline,
            elf.as_ref(),
            self.panic_report,
        )?;
        let stop = stop_on_ctrl_c()?;
        let checked = self.check_before_opening(&source, elf.as_ref())?;
        eprintln!(
            "{} (Ctrl-C to stop)",
            self.status_line(&source, &checked.defmt)
        );

        let mut opened = open(&source)?;
        let drain_with = Drain {
            receiver: with_flash_texts(self.output.receiver(), elf),
            options: self.rtt_options(checked.options, &source, &opened)?,
            requests: self.requests.requests(),
            defmt: checked.defmt,
            capture: checked.capture,
            run_options: self.run_options(&source),
            limits: self.limits.apply(),
        };
        let (stats, outcome, timeline) =
            drain(opened.link_mut(), drain_with, timeline.as_ref(), &stop);
        let ending = ending(outcome, &mut opened);
        let code = finish(opened, &stats, ending)?;
        if self.output.format == args::FormatArg::Json {
            messages::json_summary(&stats);
        }
        timeline_done(timeline)?;
        Ok(code)
    }

    /// What can be checked before the target is touched: the ELF (the RTT options it gives,
    /// unless the chip's RAM is to be searched), the defmt table, the capture file.
    fn check_before_opening(&self, source: &Source, elf: Option<&FirmwareElf>) -> Result<Checked> {
        let options = match source.locate() {
            Locate::ChipRam => None,
            locate => Some(source::rtt_options(elf, &locate, &[])?),
        };
        let defmt_mode = self.defmt.mode();
        let defmt = defmt_decoder(elf, defmt_mode)?.map(|decoder| {
            (
                decoder,
                self.defmt.defmt_channel.clone(),
                defmt_mode == DefmtMode::Required,
            )
        });
        let capture = match &self.record.record {
            Some(path) => Some(CaptureWriter::create(path).with_context(|| {
                format!("--record {}: cannot write the capture file", path.display())
            })?),
            None => None,
        };
        Ok(Checked {
            options,
            defmt,
            capture,
        })
    }

    /// `host-receiver: running … in QEMU (…); draining RTT up channel …`.
    fn status_line(&self, source: &Source, defmt: &Option<DefmtPlan>) -> String {
        let mut status = format!(
            "host-receiver: {}; draining RTT up channel {}",
            source.describe(),
            self.channels.channel
        );
        if let Some((decoder, channel, _)) = defmt {
            status.push_str(&format!(
                " and defmt channel {channel} ({} log statements in the ELF's table)",
                decoder.table().statements()
            ));
        }
        if let Some(path) = &self.record.record {
            status.push_str(&format!("; recording into {}", path.display()));
        }
        if let Some(path) = &self.timeline.timeline {
            status.push_str(&format!("; timeline into {}", path.display()));
        }
        status
    }

    /// The reader's options: where the block is (`early`, or the chip's RAM), the channels.
    fn rtt_options(
        &self,
        early: Option<RttOptions>,
        source: &Source,
        opened: &OpenTarget,
    ) -> Result<RttOptions> {
        let options = match early {
            Some(options) => options,
            None => source::rtt_options(None, &source.locate(), &opened.chip_ram())?,
        };
        let mut options = options.up_channel(self.channels.channel.clone());
        let down = self.channels.down_channel.clone().or_else(|| {
            self.requests
                .any()
                .then(|| ChannelSelector::name(DEFAULT_CHANNEL))
        });
        if let Some(down) = down {
            options = options.down_channel(down);
        }
        Ok(options)
    }

    /// How the session polls: the attach timeout, retries for a probe link.
    fn run_options(&self, source: &Source) -> RunOptions {
        let attach_timeout = (self.channels.attach_timeout > 0.0)
            .then(|| Duration::from_secs_f64(self.channels.attach_timeout));
        let retry = match source {
            Source::Probe { .. } => PROBE_RETRY,
            Source::Qemu { .. } | Source::Gdb { .. } => Duration::ZERO,
        };
        RunOptions::default()
            .attach_timeout(attach_timeout)
            .retry_for(retry)
    }
}

/// Opens what `source` names, through the library.
fn open(source: &Source) -> Result<OpenTarget> {
    let target = source.target()?;
    let opened = match source {
        Source::Gdb { address, .. } => {
            OpenTarget::open(&target).with_context(|| format!("--gdb {address}"))?
        }
        _ => OpenTarget::open(&target)?,
    };
    #[cfg(feature = "probe-rs")]
    if let rtt_tunnel_host::target::Link::Probe(probe) = opened.link() {
        eprintln!(
            "host-receiver: connected to the {} through {}",
            probe.chip(),
            probe.probe_name()
        );
    }
    Ok(opened)
}

/// How the run ended: QEMU's own exit status is the firmware's verdict when there is one.
fn ending(outcome: Result<RunEnd>, opened: &mut OpenTarget) -> Result<Ending> {
    match outcome {
        Ok(RunEnd::Stopped) => Ok(Ending::Interrupted),
        Ok(RunEnd::Exited(code)) => match opened.qemu_exit_code() {
            // The GDB stop reply carries only the low 8 bits of the code.
            Ok(Some(qemu_code)) => Ok(Ending::Exited(qemu_code)),
            Ok(None) => Ok(Ending::Exited(code)),
            Err(error) => Err(anyhow::Error::new(error)),
        },
        Ok(RunEnd::Gone(error)) => match opened.qemu_exit_code() {
            // The firmware exited and QEMU closed the link before the stop reply came.
            Ok(Some(code)) => Ok(Ending::Exited(code)),
            Ok(None) => Err(anyhow::Error::new(error).context("the target is gone")),
            Err(qemu) => Err(anyhow::Error::new(qemu).context("QEMU ended under host-receiver")),
        },
        Err(error) => Err(error),
    }
}

/// Lets go of the target (a target behind a GDB server runs on without a debugger after
/// Ctrl-C), prints the firmware's console and the summary; returns the exit status.
fn finish(mut opened: OpenTarget, stats: &SessionStats, ending: Result<Ending>) -> Result<i32> {
    if matches!(ending, Ok(Ending::Interrupted)) {
        opened.detach();
    }
    let console = opened.console();
    drop(opened); // kills QEMU if it still runs; lets go of the probe
    if !console.trim().is_empty() {
        for line in console.lines() {
            eprintln!("host-receiver: firmware console: {line}");
        }
    }
    summary(stats, &ending);
    match ending {
        Ok(Ending::Exited(code)) => Ok(code),
        Ok(Ending::Interrupted) => Ok(EXIT_INTERRUPTED),
        Err(error) => Err(error),
    }
}

impl RunCmd {
    /// `--serial PORT`.
    #[cfg(feature = "serial")]
    fn run_serial(&self, port: &Path) -> Result<i32> {
        let elf = read_elf_or_warn(self.source.elf.as_deref());
        let timeline = install_output(&self.output, &self.timeline, elf.as_ref(), false)?;
        let stop = stop_on_ctrl_c()?;
        let mut status = format!(
            "host-receiver: reading {} at {} baud",
            port.display(),
            self.source.baud
        );
        if let Some(path) = &self.record.record {
            status.push_str(&format!("; recording into {}", path.display()));
        }
        eprintln!("{status} (Ctrl-C to stop)");
        serial::run(
            port,
            self.source.baud,
            self.requests.requests(),
            self.record.record.as_deref(),
            timeline.as_ref(),
            {
                let mut receiver = with_flash_texts(self.output.receiver(), elf);
                receiver.set_limits(self.limits.apply());
                receiver
            },
            &stop,
        )
    }

    /// Without the serial transport.
    #[cfg(not(feature = "serial"))]
    fn run_serial(&self, _port: &Path) -> Result<i32> {
        bail!("this host-receiver was built without its `serial` feature: build it with default features for --serial")
    }
}

/// A flag that Ctrl-C sets.
fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}

/// Runs a session over `memory` to its end, then closes it (the up channel is left
/// non-blocking).
fn drain<M: TargetMemory>(
    memory: M,
    drain: Drain,
    timeline: Option<&TimelineHandle>,
    stop: &AtomicBool,
) -> (
    SessionStats,
    Result<RunEnd>,
    Option<Result<TimelineStats, TimelineError>>,
) {
    let defmt_auto = drain
        .defmt
        .as_ref()
        .map(|(_, channel, required)| (channel.clone(), *required));
    let mut receiver = drain.receiver;
    receiver.set_limits(drain.limits);
    let mut session = Session::new(RttReader::new(memory, drain.options), receiver)
        .on_attach(drain.requests)
        .report_attach(move |attachment| {
            eprintln!("host-receiver: attached to {attachment}");
            if let Some((channel, false)) = &defmt_auto {
                if attachment.extra_up.first() == Some(&None) {
                    eprintln!(
                        "host-receiver: the ELF has a defmt table but the control block no up \
                         channel {channel}: defmt lines are not shown (--defmt-channel NAME|INDEX \
                         names another)"
                    );
                }
            }
        });
    if let Some((decoder, channel, required)) = drain.defmt {
        session = session.with_defmt(decoder, channel, required);
    }
    if let Some(capture) = drain.capture {
        session = session.with_capture(capture);
    }
    let options = drain.run_options;
    let outcome = session.run(stop, &options).map_err(|error| match &error {
        SessionError::Rtt(RttError::NotFound { .. }) => {
            let waited = options.attach_timeout.unwrap_or_default();
            anyhow::Error::new(error).context(format!(
                "no RTT control block within {waited:?} (--attach-timeout)"
            ))
        }
        _ => anyhow::Error::new(error),
    });
    let closed = session.close();
    if let Err(error) = &closed.restore {
        if !error.is_target_gone() {
            eprintln!(
                "host-receiver: warning: could not put the up channel back into non-blocking \
                 mode: {error}"
            );
        }
    }
    // The timeline marks the spans the target left open, then the receiver closes them
    // under the output.
    let timeline = timeline.map(TimelineHandle::finish);
    messages::end_of_stream(&closed.receiver);
    drop(closed.receiver);
    (closed.stats, outcome, timeline)
}

/// The summary on standard error.
fn summary(stats: &SessionStats, ending: &Result<Ending>) {
    eprintln!("host-receiver: {stats}");
    messages::bounds(stats);
    match ending {
        Ok(Ending::Exited(code)) => {
            eprintln!("host-receiver: the firmware exited with code {code}")
        }
        Ok(Ending::Interrupted) => eprintln!("host-receiver: stopped (Ctrl-C)"),
        Err(_) => {}
    }
}

impl ReplayCmd {
    /// Replays the capture into the output; returns the exit status (0).
    pub fn run(self) -> Result<i32> {
        let mut reader = CaptureReader::open(&self.file)?;
        let summary = summarize(&mut reader)?;
        eprintln!(
            "host-receiver: replaying {}: {summary}",
            self.file.display()
        );
        let mode = if self.no_defmt {
            DefmtMode::Off
        } else {
            DefmtMode::Auto
        };
        let elf = read_elf_or_warn(self.elf.as_deref());
        let decoder = defmt_decoder(elf.as_ref(), mode)?;
        if summary.defmt_bytes > 0 && decoder.is_none() && !self.no_defmt {
            eprintln!(
                "host-receiver: the capture has defmt lines: pass the firmware's ELF (--elf \
                 FILE) to decode them; they are skipped"
            );
        }
        let timeline = install_output(&self.output, &self.timeline, elf.as_ref(), false)?;
        let mut reader = CaptureReader::open(&self.file)?;
        let mut receiver = with_flash_texts(self.output.receiver(), elf);
        receiver.set_limits(self.limits.apply());
        let stats = replay_with(&mut reader, &mut receiver, decoder)?;
        // The timeline marks the spans the recording left open, then the receiver closes
        // them under the output.
        let timeline = timeline.as_ref().map(TimelineHandle::finish);
        messages::end_of_stream(&receiver);
        drop(receiver);
        eprintln!("host-receiver: {stats}");
        messages::bounds(&stats);
        if self.output.format == args::FormatArg::Json {
            messages::json_summary(&stats);
        }
        timeline_done(timeline)?;
        Ok(0)
    }
}

impl ListCmd {
    /// Lists the probes; 1 when there is none.
    #[cfg(feature = "probe-rs")]
    pub fn run(self) -> Result<i32> {
        let probes = rtt_tunnel_host::probe::list_probes();
        if probes.is_empty() {
            eprintln!(
                "host-receiver: no debug probe found: plug one in (with a USB cable that \
                 carries data); on Linux, a probe that is plugged in but not listed usually \
                 needs udev rules: see {}",
                rtt_tunnel_host::probe::PROBE_SETUP_URL
            );
            return Ok(EXIT_NOTHING_LISTED);
        }
        // Each line starts with the option that picks the probe.
        for probe in &probes {
            println!("--probe {probe}");
        }
        Ok(0)
    }

    /// Without probe-rs there are no probes to list.
    #[cfg(not(feature = "probe-rs"))]
    pub fn run(self) -> Result<i32> {
        bail!("this host-receiver was built without probe-rs (its default `probe-rs` feature): build it with default features to list probes")
    }
}

impl ChipsCmd {
    /// Lists the chip names that match, by family; 1 when none does.
    #[cfg(feature = "probe-rs")]
    pub fn run(self) -> Result<i32> {
        let families = rtt_tunnel_host::probe::chips(&self.filter);
        if families.is_empty() {
            eprintln!(
                "host-receiver: no chip name of probe-rs's built-in targets contains '{}': try \
                 a shorter part of it (`host-receiver chips nrf52`, `host-receiver chips \
                 stm32f4`)",
                self.filter
            );
            return Ok(EXIT_NOTHING_LISTED);
        }
        for family in &families {
            println!("{}", family.family);
            for chip in &family.chips {
                println!("    {chip}");
            }
        }
        Ok(0)
    }

    /// Without probe-rs there is no chip list.
    #[cfg(not(feature = "probe-rs"))]
    pub fn run(self) -> Result<i32> {
        bail!("this host-receiver was built without probe-rs (its default `probe-rs` feature): build it with default features to list chips")
    }
}
