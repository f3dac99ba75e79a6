//! Writes a capture file of a hostile but well-formed stream, to replay with
//! `host-receiver replay FILE` (the figures of `docs/hardening.md`):
//!
//! ```text
//! cargo run -p rtt-tunnel-host --example hostile_capture -- SCENARIO N OUT.rttcap
//! ```
//!
//! - `nested N`: N spans, each entered inside the one before, left entered.
//! - `live N`: N `LiveSpan` frames, each claiming 1,024 entries.
//! - `open N`: N spans opened and never closed.
//! - `identities N`: N boots, each with a new firmware identity, a call site and an entered
//!   span.

use std::error::Error;

use rtt_tunnel_host::capture::CaptureWriter;
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, LiveSpan, Message, Parent, SpanId,
    Values, PROTOCOL_VERSION,
};

fn hello(boot: u32, firmware: &str) -> Message<'_> {
    Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        boot,
        tick_hz: 1_000_000,
        firmware,
        flash_base: 0,
        flash_len: 0,
    })
}

fn span_site() -> Message<'static> {
    Message::CallSite(CallSite {
        id: CallsiteId(1),
        kind: Kind::Span,
        level: Level::Info,
        name: "work",
        target: "fw",
        module_path: Some("fw"),
        file: Some("src/main.rs"),
        line: Some(7),
        fields: FieldNames::new(&[]),
    })
}

fn new_span(id: u32, parent: Parent) -> Message<'static> {
    Message::NewSpan {
        id: SpanId(id),
        callsite: CallsiteId(1),
        parent,
        values: Values::EMPTY,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, n, out] = args.as_slice() else {
        return Err("usage: hostile_capture nested|live|open|identities N OUT.rttcap".into());
    };
    let n: u32 = n.parse()?;
    let mut writer = CaptureWriter::create(out)?;
    let mut chunk = Vec::new();
    let mut buf = [0u8; 256];
    let mut push = |writer: &mut CaptureWriter<_>, message: Message<'_>| -> std::io::Result<()> {
        let len = Frame {
            dt: 1,
            exception: 0,
            message,
        }
        .encode(&mut buf)
        .expect("small frames");
        chunk.extend_from_slice(&buf[..len]);
        if chunk.len() >= 4096 {
            writer.write_data(&chunk)?;
            chunk.clear();
        }
        Ok(())
    };
    if scenario != "identities" {
        push(&mut writer, hello(1, "hostile 1"))?;
        push(&mut writer, span_site())?;
    }
    for i in 1..=n {
        match scenario.as_str() {
            "nested" => {
                push(&mut writer, new_span(i, Parent::Current))?;
                push(&mut writer, Message::Enter(SpanId(i)))?;
            }
            "live" => push(
                &mut writer,
                Message::LiveSpan(LiveSpan {
                    id: SpanId(i),
                    callsite: CallsiteId(1),
                    parent: Parent::Root,
                    entered: 1024,
                }),
            )?,
            "open" => push(&mut writer, new_span(i, Parent::Root))?,
            "identities" => {
                let firmware = format!("hostile build {i}");
                push(&mut writer, hello(i, &firmware))?;
                push(&mut writer, span_site())?;
                push(&mut writer, new_span(1, Parent::Root))?;
                push(&mut writer, Message::Enter(SpanId(1)))?;
            }
            other => return Err(format!("unknown scenario {other}").into()),
        }
    }
    // The last chunk, whatever its size.
    push(&mut writer, Message::Dropped { frames: 0 })?;
    writer.write_data(&chunk)?;
    writer.flush()?;
    Ok(())
}
