//! The output helper: text and JSON with target-time timestamps, filters, colours.

mod receiver_support;

use std::io;
use std::sync::{Arc, Mutex};

use receiver_support::*;
use rtt_tunnel_host::output::{Color, Format, Output, OutputError, Sinks};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_protocol::{Frame, Message, Parent, SpanId, Value};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A stream: Hello at 1 s, an INFO event at 1.234567 s inside `outer{a=3}`, a DEBUG event, a
/// reset at 0.000010 s of the next boot.
fn relay(output: &Output) -> String {
    let buf = Buffer::default();
    let writer = buf.clone();
    let dispatch = output.dispatch_with_writer(move || writer.clone()).unwrap();
    tracing_core::dispatcher::with_default(&dispatch, || {
        tracing::info!("from the host itself");
        let mut rx = Receiver::default();
        let mut at = |dt: i64, message: Message<'_>| {
            rx.receive(Frame {
                exception: 0,
                dt,
                message,
            })
        };
        at(1_000_000, hello(1, FIRMWARE));
        for m in standard_preamble(1).into_iter().skip(1) {
            at(0, m);
        }
        at(
            0,
            rtt_tunnel_protocol::Message::CallSite(rtt_tunnel_protocol::CallSite {
                id: rtt_tunnel_protocol::CallsiteId(9),
                kind: rtt_tunnel_protocol::Kind::Event,
                level: rtt_tunnel_protocol::Level::Debug,
                name: "debug event",
                target: "fw::app",
                module_path: None,
                file: None,
                line: None,
                fields: rtt_tunnel_protocol::FieldNames::new(&["message"]),
            }),
        );
        let a = Vals::new(&[(0, Value::U64(3))]);
        at(
            0,
            Message::NewSpan {
                id: SpanId(10),
                callsite: rtt_tunnel_protocol::CallsiteId(1),
                parent: Parent::Root,
                values: a.values(),
            },
        );
        at(0, Message::Enter(SpanId(10)));
        let v = Vals::new(&[
            (
                0,
                Value::Debug {
                    text: "sensor ready",
                    truncated: false,
                },
            ),
            (1, Value::U64(5)),
        ]);
        at(234_567, event(0, Parent::Current, v.values()));
        let d = Vals::new(&[(
            0,
            Value::Debug {
                text: "debug detail",
                truncated: false,
            },
        )]);
        at(1, event(9, Parent::Current, d.values()));
        at(10, hello(2, FIRMWARE));
    });
    buf.text()
}

#[test]
fn compact_text_with_target_time() {
    let out = relay(&Output::new(Format::Compact).color(Color::Never));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("        host  INFO"),
        "host events have no target time: {}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("   1.234567s  INFO outer: fw::app: sensor ready n=5 a=3"),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("   0.000010s  WARN rtt_tunnel: target reset (boot 1 -> 2"));
    assert!(!out.contains("debug detail"), "the default filter is info");
    assert!(!out.contains('\x1b'));
}

#[test]
fn filter_and_colours() {
    let out = relay(
        &Output::new(Format::Full)
            .filter("warn,fw::app=debug")
            .color(Color::Always),
    );
    assert!(out.contains("debug detail"), "{out}");
    assert!(out.contains("sensor ready"));
    assert!(!out.contains("from the host itself"));
    assert!(out.contains('\x1b'));
    let out = relay(&Output::new(Format::Full).filter("rtt_tunnel=warn"));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("target reset"));
}

#[test]
fn json_lines_with_target_time() {
    let out = relay(&Output::new(Format::Json).color(Color::Always));
    assert!(!out.contains('\x1b'), "no colours in JSON");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["timestamp"], "host");
    let event = &lines[1];
    assert_eq!(event["timestamp"], "1.234567s");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["target"], "fw::app");
    assert_eq!(event["fields"]["message"], "sensor ready");
    assert_eq!(event["fields"]["n"], 5);
    assert_eq!(event["span"]["name"], "outer");
    assert_eq!(event["span"]["a"], 3);
    assert_eq!(event["spans"][0]["name"], "outer");
    assert_eq!(lines[2]["fields"]["resets"], 1);
}

#[test]
fn pretty_epoch_and_span_events() {
    let out = relay(
        &Output::new(Format::Pretty)
            .with_epoch(true)
            .span_events(FmtSpan::CLOSE)
            .color(Color::Never),
    );
    assert!(out.contains("#0    1.234567s"), "{out}");
    assert!(out.contains("sensor ready"));
    // The reset closes `outer`: its close line has the old boot's last time, the warning the
    // new boot's.
    assert!(
        out.contains("#0    1.234568s  INFO fw::app: close"),
        "{out}"
    );
    assert!(
        out.contains("#1    0.000010s  WARN rtt_tunnel: target reset"),
        "{out}"
    );
}

#[test]
fn invalid_filter_is_an_error() {
    let err = Output::new(Format::Compact)
        .filter("fw::app=loud")
        .dispatch()
        .unwrap_err();
    let OutputError::Filter { filter, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(filter, "fw::app=loud");
    assert!(err
        .to_string()
        .starts_with("invalid filter \"fw::app=loud\""));
}

#[test]
fn every_sink_gets_what_is_relayed_each_with_its_filter() {
    let (text, json, quiet) = (Buffer::default(), Buffer::default(), Buffer::default());
    let (text_writer, json_writer, quiet_writer) = (text.clone(), json.clone(), quiet.clone());
    let sinks = Sinks::new()
        .with_output_to(
            &Output::new(Format::Compact)
                .filter("info")
                .color(Color::Never),
            move || text_writer.clone(),
        )
        .unwrap()
        .with_output_to(&Output::new(Format::Json).filter("trace"), move || {
            json_writer.clone()
        })
        .unwrap()
        .with_output_to(&Output::new(Format::Compact).filter("warn"), move || {
            quiet_writer.clone()
        })
        .unwrap();
    assert_eq!(sinks.len(), 3);
    let dispatch = sinks.dispatch();
    let n = Vals::new(&[(1, Value::U64(7))]);
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = Receiver::default();
        feed(&mut rx, standard_preamble(1));
        rx.try_receive(frame(event(0, Parent::Current, n.values())))
            .unwrap();
    });
    // The INFO event reaches the text and JSON sinks, not the one that shows warnings only.
    assert!(text.text().contains("n=7"), "{}", text.text());
    assert_eq!(text.text().lines().count(), 1, "{}", text.text());
    assert_eq!(json.text().lines().count(), 1, "{}", json.text());
    assert!(json.text().contains("\"n\":7"), "{}", json.text());
    assert_eq!(quiet.text(), "");
}
