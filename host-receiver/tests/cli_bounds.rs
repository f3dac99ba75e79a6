//! host-receiver against hostile recordings (issue 12): deep nestings left entered end with
//! a normal exit and a clear report; the bounds reached are named with the option that raises
//! them.

use std::path::PathBuf;
use std::process::{Command, Output};

use rtt_tunnel_host::capture::CaptureWriter;
use rtt_tunnel_protocol::{
    CallSite, CallsiteId, FieldNames, Frame, Hello, Kind, Level, Message, Parent, SpanId, Values,
    PROTOCOL_VERSION,
};

const BIN: &str = env!("CARGO_BIN_EXE_host-receiver");

/// A capture of a `Hello`, a span call site, then `depth` spans each entered inside the one
/// before, left entered (the end of the stream, or a reset when `reset`).
fn nested_capture(name: &str, depth: u32, reset: bool) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "host-receiver-bounds-{}-{name}.rttcap",
        std::process::id()
    ));
    let mut writer = CaptureWriter::create(&path).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 128];
    let mut push = |message: Message<'_>| {
        let n = Frame {
            dt: 1,
            exception: 0,
            message,
        }
        .encode(&mut buf)
        .unwrap();
        data.extend_from_slice(&buf[..n]);
    };
    let hello = |boot| {
        Message::Hello(Hello {
            version: PROTOCOL_VERSION,
            boot,
            tick_hz: 1_000_000,
            firmware: "bounds test",
            flash_base: 0,
            flash_len: 0,
        })
    };
    push(hello(1));
    push(Message::CallSite(CallSite {
        id: CallsiteId(1),
        kind: Kind::Span,
        level: Level::Info,
        name: "level",
        target: "fw",
        module_path: Some("fw"),
        file: Some("src/main.rs"),
        line: Some(3),
        fields: FieldNames::new(&[]),
    }));
    for id in 1..=depth {
        push(Message::NewSpan {
            id: SpanId(id),
            callsite: CallsiteId(1),
            parent: Parent::Current,
            values: Values::EMPTY,
        });
        push(Message::Enter(SpanId(id)));
    }
    if reset {
        push(hello(2));
    }
    writer.write_data(&data).unwrap();
    writer.flush().unwrap();
    path
}

struct Run {
    code: Option<i32>,
    stderr: String,
}

fn replay(path: &PathBuf, options: &[&str]) -> Run {
    let Output { status, stderr, .. } = Command::new(BIN)
        .arg("replay")
        .arg(path)
        .args(["--format", "json"])
        .args(options)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    Run {
        code: status.code(),
        stderr,
    }
}

#[test]
fn nested_spans_left_entered_end_normally_with_a_report() {
    // Within raised bounds: all 5,000 entered, closed at the end of the stream.
    let path = nested_capture("5000", 5_000, false);
    let run = replay(&path, &["--max-depth", "5000"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the stream ended with 5000 spans of the target alive, 5000 of them entered"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("bound reached"), "{}", run.stderr);
    std::fs::remove_file(&path).unwrap();

    // 200,000 with the default bounds, then a reset: refused beyond the bounds, counted, and
    // named with the options that raise them.
    let path = nested_capture("200000", 200_000, true);
    let run = replay(&path, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("183616 new spans refused: 16384 were alive (--max-spans N"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("were entered (--max-depth N"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("resets: 1"), "{}", run.stderr);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn call_sites_over_the_memory_bound_name_the_option() {
    let path = nested_capture("arena", 3, false);
    let run = replay(&path, &["--call-site-memory", "0"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--call-site-memory MIB raises the bound"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("set_leak_limit"), "{}", run.stderr);
    std::fs::remove_file(&path).unwrap();
}
