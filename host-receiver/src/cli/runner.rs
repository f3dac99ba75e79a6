//! `host-receiver run`: cargo's runner. Flashes the ELF through a debug probe (`--chip`, with
//! a progress bar) or starts it in QEMU (`--qemu`), then drains it from its boot as the
//! top-level command does, and prints a panic the firmware reports with the spans it was in.

use std::fmt::Write as _;

use anyhow::{bail, Result};
use rtt_tunnel_host::elf::FirmwareElf;
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, Registry};

use super::args::RunnerCmd;

impl RunnerCmd {
    /// Flashes (with `--chip`, unless `--no-flash`), then drains; returns the exit status.
    pub fn run(self) -> Result<i32> {
        if !self.elf.is_file() {
            bail!(
                "{}: no such file (cargo passes the ELF it built to its runner; by hand, give \
                 the path of the firmware ELF, target/<triple>/<profile>/<name>)",
                self.elf.display()
            );
        }
        // Read once, for the flash image and the run.
        let elf = FirmwareElf::read(&self.elf)?;
        if let Some(chip) = &self.chip {
            if !self.no_flash {
                flash(chip, &self, &elf)?;
            }
        }
        let mut run = self.into_run();
        run.panic_report = true;
        run.run_with_elf(Some(elf))
    }
}

/// Flashes the ELF into `chip`: the ELF is checked first, then the probe opened (without a
/// reset), the image written with probe-rs's flash loader under a progress bar per phase. The
/// drain that follows opens the probe again and resets the chip.
#[cfg(feature = "probe-rs")]
fn flash(chip: &str, cmd: &RunnerCmd, elf: &FirmwareElf) -> Result<()> {
    use anyhow::Context as _;
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    use rtt_tunnel_host::probe::{flash_image, FlashImage, FlashPhase, FlashStep, ProbeMemory};
    use rtt_tunnel_host::target::Target;
    use std::collections::HashMap;

    let image = FlashImage::from_elf(elf)?;
    let Target::Probe(options) = super::source::probe_target(&super::source::ProbeTarget {
        chip: chip.to_owned(),
        probe: cmd.probe.clone(),
        speed_khz: cmd.speed,
        protocol: cmd.protocol,
        connect_under_reset: cmd.connect_under_reset,
        reset: false,
    })?
    else {
        unreachable!("probe options open a probe")
    };
    let mut probe = ProbeMemory::open(&options).context("before flashing")?;
    eprintln!(
        "host-receiver: flashing {} ({} bytes) into the {} through {}",
        cmd.elf.display(),
        image.len(),
        probe.chip(),
        probe.probe_name()
    );
    let style = ProgressStyle::with_template(
        "{msg:>11} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec})",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    // One bar per phase, all shown at once (probe-rs announces them before the first begins).
    let bars = MultiProgress::new();
    let mut shown: HashMap<FlashPhase, ProgressBar> = HashMap::new();
    flash_image(&mut probe, &image, |step| match step {
        FlashStep::Begin(phase, total) => {
            let bar = bars.add(ProgressBar::new(total.unwrap_or(0)).with_style(style.clone()));
            bar.set_message(match phase {
                FlashPhase::Fill => "Reading",
                FlashPhase::Erase => "Erasing",
                FlashPhase::Program => "Programming",
                FlashPhase::Verify => "Verifying",
            });
            if let Some(old) = shown.insert(phase, bar) {
                old.finish_and_clear();
            }
        }
        FlashStep::Advance(phase, bytes) => {
            if let Some(bar) = shown.get(&phase) {
                bar.inc(bytes);
            }
        }
        FlashStep::End(phase, ok) => {
            if let Some(bar) = shown.get(&phase) {
                if ok {
                    bar.finish();
                } else {
                    bar.abandon();
                }
            }
        }
    })?;
    Ok(())
}

/// Without probe-rs there is no probe to flash through.
#[cfg(not(feature = "probe-rs"))]
fn flash(_chip: &str, _cmd: &RunnerCmd, _elf: &FirmwareElf) -> Result<()> {
    bail!("this host-receiver was built without probe-rs (its default `probe-rs` feature): build it with default features for `run --chip`")
}

/// Prints, on standard error, a panic the firmware reports (an `ERROR` event of target
/// `panic`, rtt-tunnel-sender's `report_panic`) with the spans it was in, outermost first.
#[derive(Debug, Default)]
pub struct PanicReport;

/// The message and fields of a panic event, as text.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl PanicReport {
    /// The report's lines for a panic with `text`, inside `spans` (outermost first).
    fn lines(text: &Text, spans: &[String]) -> String {
        let mut out = format!(
            "host-receiver: the firmware panicked: {}{}",
            text.message, text.fields
        );
        if spans.is_empty() {
            out.push_str("\nhost-receiver:   outside any span");
        } else {
            let _ = write!(out, "\nhost-receiver:   in {}", spans.join(" > "));
        }
        out
    }
}

impl<S> Layer<S> for PanicReport
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "panic" {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let spans: Vec<String> = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|s| s.name().to_owned()).collect())
            .unwrap_or_default();
        eprintln!("{}", Self::lines(&text, &spans));
    }
}

/// The layer for the output's registry.
pub fn panic_report() -> impl Layer<Registry> + Send + Sync + 'static {
    PanicReport
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_with_its_spans() {
        let text = Text {
            message: "index out of bounds".into(),
            fields: " location=src/main.rs:7:5".into(),
        };
        assert_eq!(
            PanicReport::lines(&text, &["session".into(), "job".into()]),
            "host-receiver: the firmware panicked: index out of bounds location=src/main.rs:7:5\n\
             host-receiver:   in session > job"
        );
        assert!(PanicReport::lines(&text, &[]).ends_with("outside any span"));
    }
}
