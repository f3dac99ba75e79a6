//! The command line, with clap: one struct per option group, flattened into the command (as
//! probe-rs's CLI does).

use std::ops::Range;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, ValueEnum};
use host_receiver::output::{Color, Format};
use host_receiver::rtt::ChannelSelector;
use rtt_tunnel_protocol::LevelFilter;

/// The sender's channel name (`qemu_boards::init_tunnel!`, the firmware-sender docs).
pub const DEFAULT_CHANNEL: &str = "rtt-tunnel";

const EXAMPLES: &str = "\
Examples:
  host-receiver --qemu boards/target/thumbv7m-none-eabi/release/demo
      run firmware in QEMU (mps2-an385 guessed from the path) and show its spans and events
  host-receiver --gdb 127.0.0.1:3333 --elf firmware.elf --filter info,my_app=trace
      attach through any GDB server (OpenOCD, pyOCD, J-Link, Black Magic Probe)
  host-receiver --gdb localhost:1234 --ram 0x20000000..0x20010000 --resend
      no ELF: search RAM for the control block; ask a running target to re-send its call
      sites and live spans

Exit status: the firmware's exit code when it exits (QEMU's semihosting exit, a GDB server's
exit report); 130 after Ctrl-C; 2 when host-receiver fails (the message says why).";

/// Relays a microcontroller's `tracing` spans and events, drained from its RTT channel, into
/// the terminal, at the time they happened on the target.
#[derive(Debug, Parser)]
#[command(name = "host-receiver", version, after_help = EXAMPLES)]
pub struct Cli {
    /// Drain a target and show what it traces.
    #[command(flatten)]
    pub run: RunCmd,
}

/// Drain a target and show what it traces.
#[derive(Debug, Args)]
pub struct RunCmd {
    /// Where the target is.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Which RTT channels to use.
    #[command(flatten)]
    pub channels: ChannelArgs,
    /// How to show it.
    #[command(flatten)]
    pub output: OutputArgs,
    /// What to ask the target.
    #[command(flatten)]
    pub requests: RequestArgs,
}

/// Where the target is: one of `--qemu` or `--gdb` (probe-rs's `--chip` and recordings come
/// later, as more members of the group).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["qemu", "gdb"])))]
#[command(next_help_heading = "Target")]
pub struct SourceArgs {
    /// Run this firmware ELF in qemu-system-arm, drain it through QEMU's gdbstub, stop QEMU at
    /// the end and exit with the firmware's exit code.
    #[arg(long, value_name = "ELF")]
    pub qemu: Option<PathBuf>,

    /// The QEMU machine [default: from the thumb target in the ELF's path:
    /// thumbv7m-none-eabi -> mps2-an385, thumbv7em-none-eabihf -> mps2-an386,
    /// thumbv8m.main-none-eabihf -> mps2-an505; else mps2-an385].
    #[arg(long, value_name = "MACHINE", conflicts_with = "gdb")]
    pub machine: Option<String>,

    /// Attach through a GDB server (QEMU's gdbstub, OpenOCD, pyOCD, J-Link GDB Server, Black
    /// Magic Probe). The target is halted for each read; it runs on when host-receiver ends.
    #[arg(long, value_name = "HOST:PORT")]
    pub gdb: Option<String>,

    /// The firmware ELF: its `_SEGGER_RTT` symbol locates the RTT control block [default: the
    /// --qemu ELF].
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,

    /// Search this RAM range for the RTT control block, when there is no ELF (repeatable).
    #[arg(long, value_name = "START..END", value_parser = parse_range, conflicts_with = "elf")]
    pub ram: Vec<Range<u64>>,
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

/// How to show what the target traces.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// How each event is written.
    #[arg(long, value_enum, default_value_t = FormatArg::Compact)]
    pub format: FormatArg,

    /// What to show, in tracing-subscriber's EnvFilter syntax (`info`,
    /// `warn,my_app::radio=trace`) [default: $RUST_LOG, else `trace`].
    #[arg(long, value_name = "DIRECTIVES")]
    pub filter: Option<String>,

    /// Colours in text output.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
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
        let run = cli.run;
        assert_eq!(run.source.qemu, Some(PathBuf::from("fw.elf")));
        assert_eq!(run.source.machine, None);
        assert_eq!(run.channels.channel, ChannelSelector::name("rtt-tunnel"));
        assert_eq!(run.channels.down_channel, None);
        assert_eq!(run.channels.attach_timeout, 10.0);
        assert_eq!(run.output.format, FormatArg::Compact);
        assert_eq!(run.output.color, ColorArg::Auto);
        assert_eq!(run.output.filter, None);
        assert!(!run.requests.any());
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
    }

    #[test]
    fn exactly_one_source() {
        let error = parse(&[]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(error.to_string().contains("--qemu"), "{error}");
        let error = parse(&["--qemu", "a", "--gdb", "b:1"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn misuse_is_refused() {
        // --machine is for --qemu.
        let error = parse(&["--gdb", "h:1", "--machine", "mps2-an386"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        // --ram and --elf both locate the block.
        let error = parse(&["--gdb", "h:1", "--elf", "x", "--ram", "0..16"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        let error = parse(&["--qemu", "x", "--format", "yaml"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
        let error = parse(&["--qemu", "x", "--level", "loud"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
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
