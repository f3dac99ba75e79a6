//! `--serial PORT`: frames from a UART, through the library's serial source and pipeline.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use rtt_tunnel_host::capture::CaptureWriter;
use rtt_tunnel_host::pipeline::{Drain, DrainEnd, DrainError, Pipeline};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::serial::SerialSource;
use rtt_tunnel_host::timeline::TimelineHandle;
use rtt_tunnel_protocol::Request;

use super::EXIT_INTERRUPTED;

/// Drains the serial port at `path` until it goes away or `stop` is set; returns the exit
/// status (0 when the port went away, 130 after Ctrl-C).
pub fn run(
    path: &Path,
    baud: u32,
    requests: Vec<Request>,
    record: Option<&Path>,
    timeline: Option<&TimelineHandle>,
    mut receiver: Receiver,
    stop: &AtomicBool,
) -> Result<i32> {
    let port = SerialSource::open(path, baud).with_context(|| {
        format!("--serial {}: is it the target's UART, and may this user open it (on Linux, the `dialout` group)?", path.display())
    })?;
    let mut pipeline = Pipeline::new();
    if let Some(record) = record {
        let capture = CaptureWriter::create(record).with_context(|| {
            format!(
                "--record {}: cannot write the capture file",
                record.display()
            )
        })?;
        pipeline = pipeline.with_capture(capture);
    }
    let mut drain = Drain::new(port, pipeline);
    let outcome = requests
        .into_iter()
        .try_for_each(|request| drain.request(request).map(drop))
        .and_then(|()| drain.run(&mut receiver, stop));
    let stats = drain.stats(&receiver);
    // The timeline marks the spans the target left open, then the receiver closes them
    // under the output.
    let timeline = timeline.map(TimelineHandle::finish);
    super::messages::end_of_stream(&receiver);
    drop(receiver);
    eprintln!("host-receiver: {stats}");
    super::messages::bounds(&stats);
    super::timeline_done(timeline)?;
    match outcome {
        Ok(DrainEnd::Ended) => {
            eprintln!(
                "host-receiver: the serial port {} went away",
                path.display()
            );
            Ok(0)
        }
        Ok(DrainEnd::Stopped) => {
            eprintln!("host-receiver: stopped (Ctrl-C)");
            Ok(EXIT_INTERRUPTED)
        }
        Err(error @ DrainError::Source(_)) => {
            Err(anyhow::Error::new(error).context(format!("--serial {}", path.display())))
        }
        Err(error) => match record {
            Some(record) => {
                Err(anyhow::Error::new(error).context(format!("--record {}", record.display())))
            }
            None => Err(anyhow::Error::new(error)),
        },
    }
}
