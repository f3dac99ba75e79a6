//! The `host-receiver` command: drain a target's RTT channel and show its spans and events.
//!
//! [`args`] is the command line; [`source`] opens what it names (QEMU, a GDB server);
//! [`RunCmd::run`] drains it through a [`Session`] into the terminal and prints a summary on
//! standard error. Errors are `anyhow` chains whose messages say what to do.

pub mod args;
pub mod source;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use host_receiver::output::Output;
use host_receiver::receiver::Receiver;
use host_receiver::rtt::{ChannelSelector, RttError, RttReader};
use host_receiver::session::{RunEnd, RunOptions, Session, SessionError, SessionStats};
use rtt_tunnel_protocol::Request;

use args::{Cli, RunCmd, DEFAULT_CHANNEL};
use source::{Opened, Source};

/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit status when host-receiver itself fails.
pub const EXIT_FAILURE: i32 = 2;

/// Parses the command line, runs it, and returns the process's exit status.
pub fn main() -> i32 {
    let cli = <Cli as clap::Parser>::parse();
    match cli.run.run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", report(&error));
            EXIT_FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once (many errors already quote their
/// source in their own message).
pub fn report(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
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

/// How a run ended, for the summary and the exit status.
#[derive(Debug)]
enum Ending {
    /// The firmware exited with this code.
    Exited(i32),
    /// Ctrl-C.
    Interrupted,
}

impl RunCmd {
    /// Runs the command; returns the exit status.
    pub fn run(self) -> Result<i32> {
        let source = Source::from_args(&self.source)?;
        let filter = match &self.output.filter {
            Some(filter) => filter.clone(),
            None => std::env::var("RUST_LOG")
                .ok()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| "trace".into()),
        };
        let dispatch = Output::new(self.output.format.into())
            .filter(&filter)
            .color(self.output.color.into())
            .dispatch()?;
        tracing_core::dispatcher::set_global_default(dispatch)
            .context("cannot install the output (another tracing subscriber is installed)")?;

        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = Arc::clone(&stop);
            ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
                .context("cannot install the Ctrl-C handler")?;
        }

        let mut options = match &source {
            Source::Qemu { elf, .. } => source::rtt_options(&source::Locate::Elf(elf.clone()))?,
            Source::Gdb { locate, .. } => source::rtt_options(locate)?,
        }
        .up_channel(self.channels.channel.clone());
        let down = self.channels.down_channel.clone().or_else(|| {
            self.requests
                .any()
                .then(|| ChannelSelector::name(DEFAULT_CHANNEL))
        });
        if let Some(down) = down {
            options = options.down_channel(down);
        }
        let mut requests = Vec::new();
        if self.requests.resend {
            requests.push(Request::ResendAll);
        }
        if let Some(level) = self.requests.level {
            requests.push(Request::SetLevel(level.into()));
        }
        let run_options = RunOptions::default().attach_timeout(
            (self.channels.attach_timeout > 0.0)
                .then(|| Duration::from_secs_f64(self.channels.attach_timeout)),
        );

        eprintln!(
            "host-receiver: {}; draining RTT up channel {} (Ctrl-C to stop)",
            source.describe(),
            self.channels.channel
        );
        let mut opened = Opened::open(&source)?;
        let session = Session::new(
            RttReader::new(&mut opened.gdb, options),
            Receiver::default(),
        )
        .on_attach(requests);
        let (stats, outcome) = drain(session, &stop, &run_options);

        let ending = match outcome {
            Ok(RunEnd::Stopped) => Ok(Ending::Interrupted),
            Ok(RunEnd::Exited(code)) => match opened.qemu_exit_code() {
                // QEMU's own status is the firmware's verdict; the GDB stop reply carries
                // only its low 8 bits.
                Ok(Some(qemu_code)) => Ok(Ending::Exited(qemu_code)),
                Ok(None) => Ok(Ending::Exited(code)),
                Err(error) => Err(anyhow::Error::new(error)),
            },
            Ok(RunEnd::Gone(error)) => match opened.qemu_exit_code() {
                // The firmware exited and QEMU closed the link before the stop reply came.
                Ok(Some(code)) => Ok(Ending::Exited(code)),
                Ok(None) => Err(anyhow::Error::new(error).context("the target is gone")),
                Err(qemu) => {
                    Err(anyhow::Error::new(qemu).context("QEMU ended under host-receiver"))
                }
            },
            Err(error) => Err(error),
        };
        // The target runs on without a debugger when we leave it.
        if matches!(ending, Ok(Ending::Interrupted)) && opened.qemu.is_none() {
            let _ = opened.gdb.client_mut().detach();
        }
        let console = opened.console();
        drop(opened); // kills QEMU if it still runs
        if !console.trim().is_empty() {
            for line in console.lines() {
                eprintln!("host-receiver: firmware console: {line}");
            }
        }
        summary(&stats, &ending);
        match ending {
            Ok(Ending::Exited(code)) => Ok(code),
            Ok(Ending::Interrupted) => Ok(EXIT_INTERRUPTED),
            Err(error) => Err(error),
        }
    }
}

/// Runs the session to its end, then closes it (the up channel is left non-blocking).
fn drain<M: host_receiver::memory::TargetMemory>(
    mut session: Session<M>,
    stop: &AtomicBool,
    options: &RunOptions,
) -> (SessionStats, Result<RunEnd>) {
    let outcome = session.run(stop, options).map_err(|error| match &error {
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
    // The receiver closes the spans the target left open, under the output.
    drop(closed.receiver);
    (closed.stats, outcome)
}

/// The summary on standard error.
fn summary(stats: &SessionStats, ending: &Result<Ending>) {
    eprintln!("host-receiver: {stats}");
    match ending {
        Ok(Ending::Exited(code)) => {
            eprintln!("host-receiver: the firmware exited with code {code}")
        }
        Ok(Ending::Interrupted) => eprintln!("host-receiver: stopped (Ctrl-C)"),
        Err(_) => {}
    }
}
