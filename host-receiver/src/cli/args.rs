//! The command line, with clap, in probe-rs's shape: one struct per subcommand with a `run`
//! method (in [`super`]), option groups flattened into them.
//!
//! Draining a target is the command itself (`host-receiver --qemu ELF`, `host-receiver --chip
//! CHIP --elf ELF`): its options sit at the top level, next to the subcommands `list`, `chips`
//! and `replay`, which take none of them.

use std::ops::Range;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use rtt_tunnel_host::output::{Color, Format};
use rtt_tunnel_host::receiver::{set_leak_limit, Limits, DEFAULT_LEAK_LIMIT};
use rtt_tunnel_host::rtt::ChannelSelector;
use rtt_tunnel_protocol::LevelFilter;

/// The sender's channel name (`qemu_boards::init_tunnel!`, the firmware-sender docs).
pub const DEFAULT_CHANNEL: &str = "rtt-tunnel";

/// What `--probe` parses into: a [`ProbeSelector`](rtt_tunnel_host::probe::ProbeSelector)
/// (`VID:PID[:SERIAL]`), checked as the command line is read.
#[cfg(feature = "probe-rs")]
pub type ProbeArg = rtt_tunnel_host::probe::ProbeSelector;
/// What `--probe` parses into (a build without probe-rs only says it has none).
#[cfg(not(feature = "probe-rs"))]
pub type ProbeArg = String;

const EXAMPLES: &str = "\
Examples:
  host-receiver --qemu boards/target/thumbv7m-none-eabi/release/demo
      run firmware in QEMU (mps2-an385 guessed from the path) and show its spans and events
  host-receiver --chip nRF52840_xxAA --elf target/thumbv7em-none-eabihf/release/app --resend
      attach through a debug probe to the running firmware (no halt, no reset); ask it to
      re-send its call sites and live spans
  host-receiver --chip STM32F411CEUx --elf app.elf --reset --record run.rttcap
      reset the chip, watch it from its boot, record what it sends
  host-receiver replay run.rttcap --format json
      decode a recording again, with any output options
  host-receiver --gdb 127.0.0.1:3333 --elf firmware.elf --filter info,my_app=trace
      attach through any GDB server (OpenOCD, pyOCD, J-Link, Black Magic Probe)
  host-receiver --gdb localhost:1234 --ram 0x20000000..0x20010000 --resend
      no ELF: search RAM for the control block
  host-receiver --serial /dev/ttyACM0 --baud 921600 --resend
      firmware that sends its frames over a UART: read them from the serial port
  host-receiver list
      the debug probes plugged in, with the --probe that picks each
  host-receiver chips nrf52
      the chip names --chip takes

defmt: when the ELF (--elf, or the --qemu ELF) has a defmt table and the control block an up
channel named `defmt`, its lines are decoded and shown among the spans and events, as events
of target `defmt` (--defmt insists, --no-defmt turns it off).

Exit status: the firmware's exit code when it exits (QEMU's semihosting exit, a GDB server's
exit report); 0 when a --serial port goes away; 130 after Ctrl-C (how a --chip run normally
ends); 2 when host-receiver fails (the message says why). `list` and `chips`: 0 when they
list something, 1 when there is nothing to list.";

/// Relays a microcontroller's `tracing` spans and events, drained from its RTT channel, into
/// the terminal, at the time they happened on the target.
#[derive(Debug, Parser)]
#[command(
    name = "host-receiver",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Another command than draining a target.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Drain a target and show what it traces (without a subcommand).
    #[command(flatten)]
    pub run: RunCmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the debug probes plugged into this host, with the --probe that picks each.
    List(ListCmd),
    /// List the chip names --chip takes (probe-rs's built-in targets) that contain FILTER.
    Chips(ChipsCmd),
    /// Decode a capture recorded with --record, with any output options.
    Replay(ReplayCmd),
    /// Flash (--chip) or start (--qemu) a firmware ELF and show what it traces from its
    /// boot, until it exits: cargo's runner (`runner = "host-receiver run --chip CHIP"`).
    Run(RunnerCmd),
}

/// `host-receiver run [--chip CHIP | --qemu] [OPTIONS] ELF`: what `cargo run` calls as the
/// runner of a firmware crate.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("run_target").required(true).args(["chip", "qemu"])),
    after_help = RUNNER_HELP
)]
pub struct RunnerCmd {
    /// The firmware ELF (cargo passes it to its runner).
    #[arg(value_name = "ELF")]
    pub elf: PathBuf,

    /// Flash the ELF into this chip through a debug probe (probe-rs; names as `host-receiver
    /// chips FILTER` lists them), reset it and watch it from its boot.
    #[arg(long, value_name = "CHIP")]
    pub chip: Option<String>,

    /// Run the ELF in qemu-system-arm instead (the machine from the thumb target in the ELF's
    /// path, as with the top-level --qemu).
    #[arg(long)]
    pub qemu: bool,

    /// The QEMU machine [default: from the ELF's path].
    #[arg(long, value_name = "MACHINE", conflicts_with = "chip")]
    pub machine: Option<String>,

    /// The firmware's command line under QEMU (its `-append`).
    #[arg(long, value_name = "ARGS", conflicts_with = "chip")]
    pub append: Option<String>,

    /// Do not flash: the chip has this firmware already; reset it and watch.
    #[arg(long, conflicts_with = "qemu")]
    pub no_flash: bool,

    /// Which probe, when several are plugged in: `VID:PID[:SERIAL]`.
    #[arg(long, value_name = "VID:PID[:SERIAL]", conflicts_with = "qemu")]
    pub probe: Option<ProbeArg>,

    /// The wire's clock in kHz [default: the probe's].
    #[arg(long, value_name = "KHZ", conflicts_with = "qemu")]
    pub speed: Option<u32>,

    /// The wire protocol [default: the probe's].
    #[arg(long, value_enum, conflicts_with = "qemu")]
    pub protocol: Option<ProtocolArg>,

    /// Hold the chip in reset while connecting.
    #[arg(long, conflicts_with = "qemu")]
    pub connect_under_reset: bool,

    /// Which RTT channels to use.
    #[command(flatten)]
    pub channels: ChannelArgs,
    /// defmt lines on a channel of their own.
    #[command(flatten)]
    pub defmt: DefmtArgs,
    /// How to show it.
    #[command(flatten)]
    pub output: OutputArgs,
    /// What to ask the target.
    #[command(flatten)]
    pub requests: RequestArgs,
    /// Where to record it.
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// A timeline file.
    #[command(flatten)]
    pub timeline: TimelineArgs,
}

const RUNNER_HELP: &str = "\
As cargo's runner, in the firmware crate's .cargo/config.toml:

  [target.thumbv7em-none-eabihf]
  runner = \"host-receiver run --chip nRF52840_xxAA\"

then `cargo run --release` builds, flashes (with a progress bar), resets the chip and shows its
spans and events from the boot. QEMU firmware: `runner = \"host-receiver run --qemu\"`.

Ends with the firmware: with its exit code when it exits through semihosting (QEMU); on Ctrl-C
(130), with the up channel put back to non-blocking so the firmware runs on. A panic reported
by the firmware (rtt-tunnel-sender's panic handler) is printed with the spans it was in.";

impl RunnerCmd {
    /// The drain command this runs once the firmware is in place: the chip reset and watched
    /// from its boot, or the ELF run in QEMU.
    pub fn into_run(self) -> RunCmd {
        let (qemu, elf) = if self.qemu {
            (Some(self.elf), None)
        } else {
            (None, Some(self.elf))
        };
        RunCmd {
            source: SourceArgs {
                qemu,
                machine: self.machine,
                append: self.append,
                gdb: None,
                chip: self.chip,
                serial: None,
                baud: 115_200,
                elf,
                ram: Vec::new(),
            },
            probe: ProbeArgs {
                probe: self.probe,
                speed: self.speed,
                protocol: self.protocol,
                connect_under_reset: self.connect_under_reset,
                reset: true,
            },
            channels: self.channels,
            defmt: self.defmt,
            output: self.output,
            requests: self.requests,
            record: self.record,
            limits: self.limits,
            timeline: self.timeline,
            panic_report: false,
        }
    }
}

/// Drain a target and show what it traces.
#[derive(Debug, Args)]
pub struct RunCmd {
    /// Where the target is.
    #[command(flatten)]
    pub source: SourceArgs,
    /// How to reach a chip through a debug probe.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Which RTT channels to use.
    #[command(flatten)]
    pub channels: ChannelArgs,
    /// defmt lines on a channel of their own.
    #[command(flatten)]
    pub defmt: DefmtArgs,
    /// How to show it.
    #[command(flatten)]
    pub output: OutputArgs,
    /// What to ask the target.
    #[command(flatten)]
    pub requests: RequestArgs,
    /// Where to record it.
    #[command(flatten)]
    pub record: RecordArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
    /// A timeline file.
    #[command(flatten)]
    pub timeline: TimelineArgs,
    /// Print a panic the firmware reports with its spans (`run` sets it).
    #[arg(skip)]
    pub panic_report: bool,
}

/// Where the target is: one of `--qemu`, `--gdb`, `--chip` or `--serial`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["qemu", "gdb", "chip", "serial"])))]
#[command(next_help_heading = "Target")]
pub struct SourceArgs {
    /// Run this firmware ELF in qemu-system-arm, drain it through QEMU's gdbstub, stop QEMU at
    /// the end and exit with the firmware's exit code.
    #[arg(long, value_name = "ELF")]
    pub qemu: Option<PathBuf>,

    /// The QEMU machine [default: from the thumb target in the ELF's path:
    /// thumbv7m-none-eabi -> mps2-an385, thumbv7em-none-eabihf -> mps2-an386,
    /// thumbv8m.main-none-eabihf -> mps2-an505; else mps2-an385].
    #[arg(long, value_name = "MACHINE", conflicts_with_all = ["gdb", "chip"])]
    pub machine: Option<String>,

    /// The firmware's command line under QEMU (its `-append`, read through semihosting): the
    /// scenarios firmware of the tests takes its scenario from it.
    #[arg(long, value_name = "ARGS", conflicts_with_all = ["gdb", "chip"])]
    pub append: Option<String>,

    /// Attach through a GDB server (QEMU's gdbstub, OpenOCD, pyOCD, J-Link GDB Server, Black
    /// Magic Probe). The target is halted for each read; it runs on when host-receiver ends.
    #[arg(long, value_name = "HOST:PORT")]
    pub gdb: Option<String>,

    /// Attach through a debug probe (probe-rs) to this chip, by its name in probe-rs's target
    /// list (`host-receiver chips FILTER`). The probe reads the running core: no halts.
    #[arg(long, value_name = "CHIP")]
    pub chip: Option<String>,

    /// Read the frames from this serial port (`/dev/ttyUSB0`, `/dev/ttyACM0`, `COM3`): for
    /// firmware whose sender writes to a UART instead of an RTT ring. Requests (--resend,
    /// --level) go out on the port. Ends when the port goes away.
    #[arg(long, value_name = "PORT", conflicts_with = "ram")]
    pub serial: Option<PathBuf>,

    /// The serial port's speed, in bits per second (8 data bits, no parity, 1 stop bit).
    #[arg(
        long,
        value_name = "BAUD",
        default_value_t = 115_200,
        requires = "serial"
    )]
    pub baud: u32,

    /// The firmware ELF: its `_SEGGER_RTT` symbol locates the RTT control block, its `.defmt`
    /// table decodes defmt lines, its read-only data resolves the texts the target sends by
    /// reference (without it, they are read from target memory; with --serial, shown as
    /// placeholders) [default: the --qemu ELF].
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,

    /// Search this RAM range for the RTT control block, when there is no ELF (repeatable)
    /// [default with --chip: the chip's RAM].
    #[arg(long, value_name = "START..END", value_parser = parse_range, conflicts_with = "elf")]
    pub ram: Vec<Range<u64>>,
}

/// How to reach a chip through a debug probe (with `--chip`), as probe-rs's own options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Debug probe (with --chip)")]
pub struct ProbeArgs {
    /// Which probe, when several are plugged in: `VID:PID[:SERIAL]`, VID and PID in hex, as
    /// `host-receiver list` shows them.
    #[arg(long, value_name = "VID:PID[:SERIAL]", conflicts_with_all = ["qemu", "gdb"])]
    pub probe: Option<ProbeArg>,

    /// The wire's clock in kHz [default: the probe's].
    #[arg(long, value_name = "KHZ", conflicts_with_all = ["qemu", "gdb"])]
    pub speed: Option<u32>,

    /// The wire protocol [default: the probe's, SWD on Cortex-M probes].
    #[arg(long, value_enum, conflicts_with_all = ["qemu", "gdb"])]
    pub protocol: Option<ProtocolArg>,

    /// Hold the chip in reset while connecting (firmware that turns the debug pins into GPIOs
    /// or sleeps too deeply to answer); the chip then boots anew.
    #[arg(long, conflicts_with_all = ["qemu", "gdb"])]
    pub connect_under_reset: bool,

    /// Reset the chip and let it run before attaching, to watch it from its boot. Without it
    /// host-receiver attaches to the running firmware without halting or resetting it.
    #[arg(long, conflicts_with_all = ["qemu", "gdb"])]
    pub reset: bool,
}

/// `--protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// Serial Wire Debug.
    Swd,
    /// JTAG.
    Jtag,
}

/// Which RTT channels to use.
#[derive(Debug, Args)]
#[command(next_help_heading = "RTT")]
pub struct ChannelArgs {
    /// The up channel the sender writes, by name or index.
    #[arg(long, value_name = "NAME|INDEX", default_value = DEFAULT_CHANNEL)]
    pub channel: ChannelSelector,

    /// The down channel for requests to the target, by name or index [default: `rtt-tunnel`
    /// when --resend or --level asks for one; else none].
    #[arg(long, value_name = "NAME|INDEX")]
    pub down_channel: Option<ChannelSelector>,

    /// Seconds to wait for the RTT control block before giving up (0: wait forever).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub attach_timeout: f64,
}

/// defmt lines, from an up channel of their own.
#[derive(Debug, Args)]
#[command(next_help_heading = "defmt")]
pub struct DefmtArgs {
    /// Insist on showing the firmware's defmt lines: fail when the ELF has no defmt table or
    /// the control block no defmt channel [default: shown when both are there].
    #[arg(long, conflicts_with = "no_defmt")]
    pub defmt: bool,

    /// Do not drain the defmt channel.
    #[arg(long)]
    pub no_defmt: bool,

    /// The up channel defmt logs on, by name or index.
    #[arg(long, value_name = "NAME|INDEX", default_value = rtt_tunnel_host::defmt::DEFMT_CHANNEL)]
    pub defmt_channel: ChannelSelector,
}

impl DefmtArgs {
    /// What the flags ask for.
    pub fn mode(&self) -> DefmtMode {
        match (self.defmt, self.no_defmt) {
            (true, _) => DefmtMode::Required,
            (false, true) => DefmtMode::Off,
            (false, false) => DefmtMode::Auto,
        }
    }
}

/// Whether to decode defmt lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefmtMode {
    /// When the ELF has a defmt table and the block the channel.
    Auto,
    /// Fail without them.
    Required,
    /// Never.
    Off,
}

/// How to show what the target traces.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// How each event is written.
    #[arg(long, value_enum, default_value_t = FormatArg::Compact)]
    pub format: FormatArg,

    /// What to show, in tracing-subscriber's EnvFilter syntax (`info`,
    /// `warn,my_app::radio=trace`, `defmt=warn`) [default: $RUST_LOG, else `trace`].
    /// probe-rs's own events go to standard error (`probe_rs=warn` unless the filter says
    /// otherwise).
    #[arg(long, value_name = "DIRECTIVES")]
    pub filter: Option<String>,

    /// Colours in text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// The parent of what an interrupt handler traces: `own`, the span last entered in the
    /// same handler (else none), never the thread-mode span the interrupt preempted;
    /// `preempted`, whatever span the target last entered, thread mode's included.
    #[arg(long, value_enum, default_value_t = HandlerParentsArg::Own)]
    pub handler_parents: HandlerParentsArg,
}

/// `--handler-parents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HandlerParentsArg {
    /// The span last entered in the same handler.
    Own,
    /// The span last entered anywhere on the target.
    Preempted,
}

impl OutputArgs {
    /// A receiver that parents handler frames as `--handler-parents` says.
    pub fn receiver(&self) -> rtt_tunnel_host::receiver::Receiver {
        use rtt_tunnel_host::receiver::{HandlerParents, Receiver};
        Receiver::default().with_handler_parents(match self.handler_parents {
            HandlerParentsArg::Own => HandlerParents::Own,
            HandlerParentsArg::Preempted => HandlerParents::Preempted,
        })
    }
}

impl OutputArgs {
    /// The filters: for standard output, `--filter` (else `$RUST_LOG`, else `trace`) without
    /// probe-rs's own events; for standard error, probe-rs's own events (they reach the same
    /// dispatcher), from `WARN` up unless the filter has directives for `probe_rs`.
    pub fn filters(&self) -> (String, String) {
        let filter = match &self.filter {
            Some(filter) => filter.clone(),
            None => std::env::var("RUST_LOG")
                .ok()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| "trace".into()),
        };
        let (probe, target): (Vec<&str>, Vec<&str>) = filter
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .partition(|d| d.starts_with("probe_rs"));
        let mut stdout = target.join(",");
        if !stdout.is_empty() {
            stdout.push(',');
        }
        stdout.push_str("probe_rs=off");
        let stderr = if probe.is_empty() {
            "off,probe_rs=warn".to_owned()
        } else {
            format!("off,{}", probe.join(","))
        };
        (stdout, stderr)
    }
}

/// What to ask the target, on the down channel.
#[derive(Debug, Args)]
#[command(next_help_heading = "Requests to the target")]
pub struct RequestArgs {
    /// Ask the target to re-send its call sites and live spans after attaching (for a target
    /// that was already running).
    #[arg(long)]
    pub resend: bool,

    /// Set the target's runtime level filter (again after each target reset).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub level: Option<LevelArg>,
}

impl RequestArgs {
    /// Whether a down channel is needed.
    pub fn any(&self) -> bool {
        self.resend || self.level.is_some()
    }

    /// The requests to send, in order.
    pub fn requests(&self) -> Vec<rtt_tunnel_protocol::Request> {
        let mut requests = Vec::new();
        if self.resend {
            requests.push(rtt_tunnel_protocol::Request::ResendAll);
        }
        if let Some(level) = self.level {
            requests.push(rtt_tunnel_protocol::Request::SetLevel(level.into()));
        }
        requests
    }
}

/// Where to record what is drained.
#[derive(Debug, Args)]
#[command(next_help_heading = "Recording")]
pub struct RecordArgs {
    /// Record everything drained (both channels with defmt) into this capture file as it
    /// comes, for `host-receiver replay`. Each poll is written and flushed at once: the file
    /// is whole up to the last byte read, however the run ends.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// `host-receiver list`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when at least one probe is listed; 1 when none is \
found (the message says what to check); 2 when host-receiver fails."
)]
pub struct ListCmd {}

/// `host-receiver chips FILTER`.
#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 when some chip matches; 1 when none does.")]
pub struct ChipsCmd {
    /// Any part of the chip's or its family's name, any case (`nrf52840`, `stm32f4`); none
    /// lists every chip.
    #[arg(value_name = "FILTER", default_value = "")]
    pub filter: String,
}

/// `host-receiver replay FILE`.
#[derive(Debug, Args)]
pub struct ReplayCmd {
    /// The capture file (`--record FILE`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The firmware ELF, whose defmt table decodes the defmt lines of the capture, and whose
    /// read-only data resolves texts sent by reference that the capture did not record.
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,

    /// Skip the capture's defmt lines.
    #[arg(long)]
    pub no_defmt: bool,

    /// How to show it.
    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
    /// A timeline file.
    #[command(flatten)]
    pub timeline: TimelineArgs,
}

/// A timeline of the run, for the Perfetto UI and other trace viewers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Timeline")]
pub struct TimelineArgs {
    /// Write a timeline into this file as the run goes: Chrome trace-event JSON, in target
    /// time, which the Perfetto UI (ui.perfetto.dev), chrome://tracing and speedscope open.
    /// Spans are slices (each enter one), events instants, the receiver's reports (resets,
    /// drops) markers; every span and event relayed, whatever --filter says. A write that
    /// fails stops the timeline, not the terminal output, and makes the exit status 2.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,

    /// Make a numeric field a counter track of the timeline (repeat for more fields).
    #[arg(long, value_name = "FIELD", requires = "timeline")]
    pub counter: Vec<String>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One line per event, the names of its spans before the message.
    Compact,
    /// One line per event, its spans with their fields before the message.
    Full,
    /// Several lines per event, with the span tree and source locations.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Compact => Format::Compact,
            FormatArg::Full => Format::Full,
            FormatArg::Pretty => Format::Pretty,
            FormatArg::Json => Format::Json,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When standard output is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl From<ColorArg> for Color {
    fn from(color: ColorArg) -> Self {
        match color {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        }
    }
}

/// `--level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// Nothing.
    Off,
    /// `ERROR` only.
    Error,
    /// `WARN` and above.
    Warn,
    /// `INFO` and above.
    Info,
    /// `DEBUG` and above.
    Debug,
    /// Everything.
    Trace,
}

impl From<LevelArg> for LevelFilter {
    fn from(level: LevelArg) -> Self {
        match level {
            LevelArg::Off => LevelFilter::Off,
            LevelArg::Error => LevelFilter::Error,
            LevelArg::Warn => LevelFilter::Warn,
            LevelArg::Info => LevelFilter::Info,
            LevelArg::Debug => LevelFilter::Debug,
            LevelArg::Trace => LevelFilter::Trace,
        }
    }
}

/// `START..END`, each in hex (`0x` prefix) or decimal.
pub fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (start, end) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not START..END (such as 0x20000000..0x20010000)"))?;
    let (start, end) = (parse_address(start)?, parse_address(end)?);
    if start >= end {
        return Err(format!("the range `{text}` is empty"));
    }
    Ok(start..end)
}

fn parse_address(text: &str) -> Result<u64, String> {
    let text = text.trim().replace('_', "");
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not an address (0x20000000 or 536870912)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("host-receiver").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn qemu_with_defaults() {
        let cli = parse(&["--qemu", "fw.elf"]).unwrap();
        assert!(cli.command.is_none());
        let run = cli.run;
        assert_eq!(run.source.qemu, Some(PathBuf::from("fw.elf")));
        assert_eq!(run.source.machine, None);
        assert_eq!(run.source.append, None);
        assert_eq!(run.channels.channel, ChannelSelector::name("rtt-tunnel"));
        assert_eq!(run.channels.down_channel, None);
        assert_eq!(run.channels.attach_timeout, 10.0);
        assert_eq!(run.output.format, FormatArg::Compact);
        assert_eq!(run.output.color, ColorArg::Auto);
        assert_eq!(run.output.filter, None);
        assert!(!run.requests.any());
        assert_eq!(run.record.record, None);
        assert_eq!(run.defmt.mode(), DefmtMode::Auto);
        assert_eq!(run.defmt.defmt_channel, ChannelSelector::name("defmt"));
        assert!(run.probe.probe.is_none() && !run.probe.reset);
    }

    #[test]
    fn gdb_with_everything() {
        let cli = parse(&[
            "--gdb",
            "localhost:3333",
            "--ram",
            "0x2000_0000..0x2001_0000",
            "--ram",
            "268435456..268439552",
            "--channel",
            "1",
            "--down-channel",
            "requests",
            "--format",
            "json",
            "--filter",
            "info,app=trace",
            "--color",
            "never",
            "--resend",
            "--level",
            "debug",
            "--attach-timeout",
            "0",
            "--record",
            "out.rttcap",
            "--defmt-channel",
            "2",
            "--defmt",
        ])
        .unwrap();
        let run = cli.run;
        assert_eq!(run.source.gdb.as_deref(), Some("localhost:3333"));
        assert_eq!(
            run.source.ram,
            vec![0x2000_0000..0x2001_0000, 0x1000_0000..0x1000_1000]
        );
        assert_eq!(run.channels.channel, ChannelSelector::Index(1));
        assert_eq!(
            run.channels.down_channel,
            Some(ChannelSelector::name("requests"))
        );
        assert_eq!(run.output.format, FormatArg::Json);
        assert_eq!(run.output.filter.as_deref(), Some("info,app=trace"));
        assert_eq!(run.output.color, ColorArg::Never);
        assert!(run.requests.resend);
        assert_eq!(run.requests.level, Some(LevelArg::Debug));
        assert_eq!(LevelFilter::from(LevelArg::Debug), LevelFilter::Debug);
        assert_eq!(run.channels.attach_timeout, 0.0);
        assert_eq!(run.record.record, Some(PathBuf::from("out.rttcap")));
        assert_eq!(run.defmt.mode(), DefmtMode::Required);
        assert_eq!(run.defmt.defmt_channel, ChannelSelector::Index(2));
    }

    #[test]
    fn chip_with_every_probe_option() {
        let cli = parse(&[
            "--chip",
            "nRF52840_xxAA",
            "--elf",
            "fw.elf",
            "--probe",
            "1366:1015:000683",
            "--speed",
            "4000",
            "--protocol",
            "swd",
            "--connect-under-reset",
            "--reset",
            "--no-defmt",
        ])
        .unwrap();
        let run = cli.run;
        assert_eq!(run.source.chip.as_deref(), Some("nRF52840_xxAA"));
        assert_eq!(run.source.elf, Some(PathBuf::from("fw.elf")));
        #[cfg(feature = "probe-rs")]
        assert_eq!(
            run.probe.probe,
            Some(rtt_tunnel_host::probe::ProbeSelector::new(0x1366, 0x1015).serial("000683"))
        );
        assert_eq!(run.probe.speed, Some(4000));
        assert_eq!(run.probe.protocol, Some(ProtocolArg::Swd));
        assert!(run.probe.connect_under_reset && run.probe.reset);
        assert_eq!(run.defmt.mode(), DefmtMode::Off);
        // The chip's RAM is searched without --elf.
        let run = parse(&["--chip", "STM32F411CEUx", "--protocol", "jtag"])
            .unwrap()
            .run;
        assert_eq!(run.source.elf, None);
        assert!(run.source.ram.is_empty());
        assert_eq!(run.probe.protocol, Some(ProtocolArg::Jtag));
    }

    #[cfg(feature = "probe-rs")]
    #[test]
    fn a_bad_probe_selector_is_a_usage_error_that_says_the_form() {
        let error = parse(&["--chip", "x", "--probe", "1366"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let text = error.to_string();
        assert!(text.contains("expected VID:PID[:SERIAL]"), "{text}");
    }

    #[test]
    fn exactly_one_source() {
        let error = parse(&[]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        assert!(error.to_string().contains("--qemu"), "{error}");
        assert!(error.to_string().contains("--chip"), "{error}");
        for pair in [
            ["--qemu", "a", "--gdb", "b:1"],
            ["--qemu", "a", "--chip", "c"],
            ["--gdb", "b:1", "--chip", "c"],
        ] {
            let error = parse(&pair).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ArgumentConflict, "{pair:?}");
        }
    }

    #[test]
    fn misuse_is_refused() {
        // --machine and --append are for --qemu; the probe options for --chip.
        for args in [
            &["--gdb", "h:1", "--machine", "mps2-an386"][..],
            &["--chip", "x", "--append", "nested"],
            &["--qemu", "x", "--probe", "1366:1015"],
            &["--gdb", "h:1", "--speed", "100"],
            &["--qemu", "x", "--protocol", "swd"],
            &["--qemu", "x", "--reset"],
            &["--gdb", "h:1", "--connect-under-reset"],
        ] {
            let error = parse(args).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ArgumentConflict, "{args:?}");
        }
        // And none of them makes a source.
        let error = parse(&["--reset"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        // --ram and --elf both locate the block.
        let error = parse(&["--gdb", "h:1", "--elf", "x", "--ram", "0..16"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        let error = parse(&["--qemu", "x", "--defmt", "--no-defmt"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        let error = parse(&["--qemu", "x", "--format", "yaml"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        let error = parse(&["--qemu", "x", "--level", "loud"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        let error = parse(&["--chip", "x", "--protocol", "spi"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        let error = parse(&["--chip", "x", "--speed", "fast"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn subcommands() {
        let cli = parse(&["list"]).unwrap();
        assert!(matches!(cli.command, Some(Command::List(_))));
        let cli = parse(&["chips", "nrf52"]).unwrap();
        let Some(Command::Chips(chips)) = cli.command else {
            panic!("not chips")
        };
        assert_eq!(chips.filter, "nrf52");
        let Some(Command::Chips(chips)) = parse(&["chips"]).unwrap().command else {
            panic!("not chips")
        };
        assert_eq!(chips.filter, "");
        let cli = parse(&[
            "replay",
            "run.rttcap",
            "--format",
            "json",
            "--filter",
            "info",
            "--color",
            "never",
            "--elf",
            "fw.elf",
        ])
        .unwrap();
        let Some(Command::Replay(replay)) = cli.command else {
            panic!("not replay")
        };
        assert_eq!(replay.file, PathBuf::from("run.rttcap"));
        assert_eq!(replay.output.format, FormatArg::Json);
        assert_eq!(replay.output.filter.as_deref(), Some("info"));
        assert_eq!(replay.output.color, ColorArg::Never);
        assert_eq!(replay.elf, Some(PathBuf::from("fw.elf")));
        assert!(!replay.no_defmt);
        // A subcommand takes none of the run options, and replay needs its file.
        let error = parse(&["--qemu", "x", "list"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        let error = parse(&["list", "--qemu", "x"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnknownArgument);
        let error = parse(&["replay"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn run_as_cargo_runner() {
        // What cargo runs: the runner's words, then the ELF.
        let cli = parse(&["run", "--chip", "nRF52840_xxAA", "target/x/release/app"]).unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.chip.as_deref(), Some("nRF52840_xxAA"));
        assert!(!run.qemu && !run.no_flash);
        let drain = run.into_run();
        assert_eq!(drain.source.chip.as_deref(), Some("nRF52840_xxAA"));
        assert_eq!(
            drain.source.elf,
            Some(PathBuf::from("target/x/release/app"))
        );
        assert_eq!(drain.source.qemu, None);
        assert!(drain.probe.reset, "watched from the boot");

        let cli = parse(&[
            "run",
            "--qemu",
            "--format",
            "json",
            "boards/target/thumbv7m-none-eabi/release/demo",
        ])
        .unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("not run")
        };
        let drain = run.into_run();
        assert_eq!(
            drain.source.qemu,
            Some(PathBuf::from(
                "boards/target/thumbv7m-none-eabi/release/demo"
            ))
        );
        assert_eq!(drain.source.elf, None);
        assert_eq!(drain.output.format, FormatArg::Json);

        // One of --chip and --qemu; the ELF; options of the other kind refused.
        for bad in [
            &["run", "app"][..],
            &["run", "--qemu"][..],
            &["run", "--qemu", "--chip", "x", "app"][..],
            &["run", "--chip", "x", "--machine", "mps", "app"][..],
            &["run", "--qemu", "--no-flash", "app"][..],
            &["run", "--qemu", "--speed", "4000", "app"][..],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn timeline_and_counters_for_runs_and_replays() {
        let cli = parse(&[
            "--qemu",
            "fw",
            "--timeline",
            "t.json",
            "--counter",
            "a",
            "--counter",
            "b",
        ])
        .unwrap();
        assert_eq!(cli.run.timeline.timeline, Some(PathBuf::from("t.json")));
        assert_eq!(cli.run.timeline.counter, ["a", "b"]);
        let cli = parse(&["replay", "r.rttcap", "--timeline", "t.json"]).unwrap();
        let Some(Command::Replay(replay)) = cli.command else {
            panic!("not replay")
        };
        assert_eq!(replay.timeline.timeline, Some(PathBuf::from("t.json")));
        // A counter needs a timeline to be drawn in.
        let error = parse(&["--qemu", "fw", "--counter", "a"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn probe_rs_events_go_apart_from_the_targets() {
        let output = |filter: Option<&str>| OutputArgs {
            handler_parents: HandlerParentsArg::Own,
            format: FormatArg::Compact,
            filter: filter.map(String::from),
            color: ColorArg::Never,
        };
        assert_eq!(
            output(Some("info")).filters(),
            ("info,probe_rs=off".into(), "off,probe_rs=warn".into())
        );
        assert_eq!(
            output(Some("debug, probe_rs::probe=trace,app=info")).filters(),
            (
                "debug,app=info,probe_rs=off".into(),
                "off,probe_rs::probe=trace".into()
            )
        );
        assert_eq!(
            output(Some("probe_rs=info")).filters(),
            ("probe_rs=off".into(), "off,probe_rs=info".into())
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0x10..0x20"), Ok(0x10..0x20));
        assert_eq!(parse_range("16..32"), Ok(16..32));
        assert!(parse_range("0x20..0x10").unwrap_err().contains("empty"));
        assert!(parse_range("0x10").unwrap_err().contains("START..END"));
        assert!(parse_range("0x10..zz")
            .unwrap_err()
            .contains("not an address"));
    }
}

/// Bounds on what the target's frames can make host-receiver keep: far above what a real
/// sender reaches (its tables hold 32 spans, 64 call sites, 16 entered spans by default), so
/// that a stream gone wrong (a corrupted link, a hostile target) cannot take the host's memory.
/// What goes past a bound is refused, counted in the summary and reported once.
#[derive(Debug, Args)]
#[command(next_help_heading = "Bounds")]
pub struct LimitArgs {
    /// Spans of the target alive at once (some 500 bytes each on the host).
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.spans)]
    pub max_spans: usize,

    /// Spans entered at once, nesting and interrupts included (and the entries one live span
    /// re-sent by the target may claim).
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.entered)]
    pub max_depth: usize,

    /// Call sites of the running firmware.
    #[arg(long, value_name = "N", default_value_t = Limits::DEFAULT.call_sites)]
    pub max_call_sites: usize,

    /// Memory for the call sites' metadata, kept for the whole run, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_LEAK_LIMIT >> 20)]
    pub call_site_memory: usize,
}

impl LimitArgs {
    /// The receiver's bounds; sets the process's leak limit for call sites.
    pub fn apply(&self) -> Limits {
        set_leak_limit(self.call_site_memory.saturating_mul(1 << 20));
        Limits::DEFAULT
            .spans(self.max_spans)
            .entered(self.max_depth)
            .live_entries(u32::try_from(self.max_depth).unwrap_or(u32::MAX))
            .call_sites(self.max_call_sites)
    }
}
