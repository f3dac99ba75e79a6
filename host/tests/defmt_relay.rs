//! defmt side by side without hardware: a simulated target has rtt-tunnel's up channel and a
//! defmt up channel in one control block; a `Session` made `with_defmt` drains both in one poll
//! and relays the defmt lines among the tracing events, in time order and inside the spans the
//! target had entered, or after the poll's frames when the lines have no timestamps; a capture
//! of the run replays to the same output.

// A `Vec` of one RAM range is meant.
#![allow(clippy::single_range_in_vec_init)]

mod receiver_support;
mod sim_support;

use defmt_decoder::{Locations, Table};
use receiver_support::*;
use rtt_tunnel_host::capture::{replay, replay_with, CaptureReader, CaptureWriter, Record};
use rtt_tunnel_host::defmt::{DefmtDecoder, DefmtTable};
use rtt_tunnel_host::memory::SimMemory;
use rtt_tunnel_host::output::Format;
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::rtt::sim::SimRtt;
use rtt_tunnel_host::rtt::{ChannelSelector, Poll, RttError, RttOptions, RttReader};
use rtt_tunnel_host::session::{Session, SessionError, SessionStats};
use rtt_tunnel_protocol::{Frame, Message, Parent, Value};
use sim_support::{output, ram, SharedBuf, CB, RAM, RAM_SIZE};
use tracing_core::Dispatch;

/// Up channels "rtt-tunnel" (0) and "defmt" (1), down channel "rtt-tunnel".
fn target() -> (SimMemory, SimRtt) {
    let mut memory = ram();
    let rtt = SimRtt::builder(CB)
        .up("rtt-tunnel", 1024)
        .up("defmt", 256)
        .down("rtt-tunnel", 16)
        .build(&mut memory);
    rtt.init(&mut memory);
    (memory, rtt)
}

fn options() -> RttOptions {
    RttOptions::at(CB)
        .ram(vec![RAM..RAM + RAM_SIZE as u64])
        .up_channel(ChannelSelector::name("rtt-tunnel"))
}

/// A defmt table, as `defmt-decoder` reads one from an ELF (built from its serialised form):
/// statements 0 `info!("hello {=u8}")`, 1 `warn!("warn {=u32}")`, 2 `println!("plain")`.
fn table(timestamp: Option<&str>) -> Table {
    let entry = |tag: &str, string: &str| {
        serde_json::json!({
            "string": { "tag": tag, "string": string },
            "raw_symbol": format!("{{\"tag\":\"{tag}\"}}"),
        })
    };
    serde_json::from_value(serde_json::json!({
        "timestamp": timestamp.map(|t| entry("Timestamp", t)),
        "entries": {
            "0": entry("Info", "hello {=u8}"),
            "1": entry("Warn", "warn {=u32}"),
            "2": entry("Println", "plain"),
        },
        "bitflags": {},
        "encoding": "Rzcobs",
    }))
    .unwrap()
}

fn decoder(timestamp: Option<&str>) -> DefmtDecoder {
    DefmtDecoder::new(DefmtTable::new(table(timestamp), Locations::new()))
}

/// One defmt frame on the wire (rzCOBS, as defmt's encoder writes it): statement `index`, the
/// timestamp (µs) if the table has one, the arguments.
fn defmt(index: u16, micros: Option<u64>, args: &[u8]) -> Vec<u8> {
    let mut frame = index.to_le_bytes().to_vec();
    if let Some(micros) = micros {
        frame.extend_from_slice(&micros.to_le_bytes());
    }
    frame.extend_from_slice(args);
    let mut out = Vec::new();
    let (mut run, mut zeros) = (0u8, 0u8);
    for &byte in &frame {
        if run < 7 {
            if byte == 0 {
                zeros |= 1 << run;
            } else {
                out.push(byte);
            }
            run += 1;
            if run == 7 && zeros != 0 {
                out.push(zeros);
                (run, zeros) = (0, 0);
            }
        } else if byte == 0 {
            out.push((run - 7) | 0x80);
            (run, zeros) = (0, 0);
        } else {
            out.push(byte);
            run += 1;
        }
    }
    match run {
        0 => {}
        1..=6 => out.push((zeros | (0xff << run)) & 0x7f),
        _ => out.push((run - 7) | 0x80),
    }
    out.push(0);
    out
}

/// Tracing frames, each `dt` ticks (µs: the `Hello` says 1 MHz) after the one before.
fn wire(frames: &[(i64, Message<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (dt, message) in frames {
        let mut buf = [0u8; 512];
        let n = Frame {
            exception: 0,
            dt: *dt,
            message: *message,
        }
        .encode(&mut buf)
        .unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn json_output() -> (Dispatch, SharedBuf) {
    output(Format::Json)
}

/// Each JSON line as `time level target: message [spans]`.
fn lines(json: &str) -> Vec<String> {
    json.lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let spans: Vec<&str> = event["spans"]
                .as_array()
                .map(|spans| spans.iter().map(|s| s["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            format!(
                "{} {} {}: {} {spans:?}",
                event["timestamp"].as_str().unwrap(),
                event["level"].as_str().unwrap(),
                event["target"].as_str().unwrap(),
                event["fields"]["message"].as_str().unwrap(),
            )
        })
        .collect()
}

/// The target writes `frames` and `defmt` bytes, then the host polls once.
fn poll_once(session: &mut Session<SimMemory>, rtt: &SimRtt, frames: &[u8], defmt: &[u8]) {
    let memory = session.reader_mut().memory_mut();
    assert_eq!(rtt.write_up(memory, 0, frames), frames.len());
    assert_eq!(rtt.write_up(memory, 1, defmt), defmt.len());
    match session.poll().unwrap() {
        Poll::Data(n) => assert_eq!(n, frames.len()),
        other => panic!("expected data, got {other:?}"),
    }
}

/// Runs the polls, each (tracing frames, defmt bytes), live with a capture; returns the output,
/// the stats and the capture.
fn run_live(
    decoder: DefmtDecoder,
    polls: &[(Vec<u8>, Vec<u8>)],
) -> (String, SessionStats, Vec<u8>) {
    let (memory, rtt) = target();
    let file = SharedBuf::default();
    let (dispatch, out) = json_output();
    let stats = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .report_attach(|_| {})
            .with_defmt(decoder, ChannelSelector::name("defmt"), true)
            .with_capture(CaptureWriter::new(file.clone()).unwrap());
        let Poll::Attached(attachment) = session.poll().unwrap() else {
            panic!("no attach")
        };
        assert_eq!(
            attachment.extra_up[0].as_ref().unwrap().name.as_deref(),
            Some("defmt")
        );
        for (frames, defmt) in polls {
            poll_once(&mut session, &rtt, frames, defmt);
        }
        let closed = session.close();
        drop(closed.receiver);
        closed.stats
    });
    let capture = file.bytes();
    (out.text(), stats, capture)
}

fn replay_text(capture: &[u8], decoder: Option<DefmtDecoder>) -> (String, SessionStats) {
    let (dispatch, out) = json_output();
    let stats = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        let stats = replay_with(
            &mut CaptureReader::new(capture).unwrap(),
            &mut receiver,
            decoder,
        )
        .unwrap();
        drop(receiver);
        stats
    });
    (out.text(), stats)
}

/// The tracing side of the first poll: `a` at 1010 µs, span `outer` entered at 1025, `b` in it
/// at 1030, exited at 1045, `c` at 1055.
fn first_poll_frames(vals: &[Vals; 3]) -> Vec<u8> {
    let mut frames = vec![(1000, hello(1, FIRMWARE))];
    frames.extend(
        standard_preamble(1)
            .into_iter()
            .skip(1)
            .map(|message| (0, message)),
    );
    frames.extend([
        (10, event(0, Parent::Current, vals[0].values())),
        (5, new_span(1, 1, Parent::Current)),
        (10, Message::Enter(span(1))),
        (5, event(0, Parent::Current, vals[1].values())),
        (15, Message::Exit(span(1))),
        (10, event(0, Parent::Current, vals[2].values())),
        (0, Message::Close(span(1))),
    ]);
    wire(&frames)
}

fn messages() -> [Vals; 3] {
    ["a", "b", "c"].map(|m| Vals::new(&[(0, Value::Str(m))]))
}

#[test]
fn timestamped_lines_are_relayed_in_time_order_inside_the_spans_then_replayed_the_same() {
    let vals = messages();
    let mut first_defmt = defmt(0, Some(1020), &[1]);
    first_defmt.extend(defmt(1, Some(1035), &[0, 1, 0, 0]));
    first_defmt.extend(defmt(2, Some(5000), &[]));
    // A frame cut across two polls.
    let later = defmt(0, Some(6000), &[2]);
    let (head, tail) = later.split_at(3);
    let polls = [
        (first_poll_frames(&vals), first_defmt),
        (Vec::new(), head.to_vec()),
        (Vec::new(), tail.to_vec()),
    ];
    let (live, stats, capture) = run_live(decoder(Some("{=u64:us}")), &polls);
    assert_eq!(
        lines(&live),
        [
            "0.001010s INFO fw::app: a []",
            "0.001020s INFO defmt: hello 1 []",
            "0.001030s INFO fw::app: b [\"outer\"]",
            "0.001035s WARN defmt: warn 256 [\"outer\"]",
            "0.001055s INFO fw::app: c []",
            "0.005000s INFO defmt: plain []",
            "0.006000s INFO defmt: hello 2 []",
        ]
    );
    assert_eq!((stats.defmt_lines, stats.defmt_errors), (4, 0));
    assert_eq!(
        stats.defmt_bytes,
        polls.iter().map(|p| p.1.len() as u64).sum::<u64>()
    );
    assert!(
        stats.to_string().ends_with(&format!(
            "; defmt: 4 lines ({} bytes), 0 errors",
            stats.defmt_bytes
        )),
        "{stats}"
    );

    // One record per poll, both channels in it.
    let records: Vec<Record> = CaptureReader::new(&capture[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let polls_recorded: Vec<(usize, usize)> = records
        .iter()
        .filter_map(|r| match r {
            Record::DataWithDefmt { data, defmt } => Some((data.len(), defmt.len())),
            Record::Data(data) => Some((data.len(), 0)),
            _ => None,
        })
        .collect();
    let polls_sent: Vec<(usize, usize)> = polls.iter().map(|(f, d)| (f.len(), d.len())).collect();
    assert_eq!(polls_recorded, polls_sent);

    let (replayed, replay_stats) = replay_text(&capture, Some(decoder(Some("{=u64:us}"))));
    assert_eq!(
        replayed, live,
        "the replay prints what the live run printed"
    );
    assert_eq!(replay_stats, stats);

    // Without the table the replay shows the tracing side alone, and counts the defmt bytes.
    let (dispatch, out) = json_output();
    let skipped = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut receiver = Receiver::default();
        replay(
            &mut CaptureReader::new(&capture[..]).unwrap(),
            &mut receiver,
        )
        .unwrap()
    });
    assert_eq!(
        lines(&out.text()),
        [
            "0.001010s INFO fw::app: a []",
            "0.001030s INFO fw::app: b [\"outer\"]",
            "0.001055s INFO fw::app: c []",
        ]
    );
    assert_eq!(
        (skipped.defmt_lines, skipped.defmt_bytes),
        (0, stats.defmt_bytes)
    );
}

#[test]
fn lines_without_timestamps_follow_their_polls_frames_as_roots() {
    let vals = messages();
    let mut first_defmt = defmt(0, None, &[1]);
    first_defmt.extend(defmt(1, None, &[2, 0, 0, 0]));
    let polls = [(first_poll_frames(&vals), first_defmt)];
    let (live, stats, capture) = run_live(decoder(None), &polls);
    assert_eq!(
        lines(&live),
        [
            "0.001010s INFO fw::app: a []",
            "0.001030s INFO fw::app: b [\"outer\"]",
            "0.001055s INFO fw::app: c []",
            "0.001055s INFO defmt: hello 1 []",
            "0.001055s WARN defmt: warn 2 []",
        ]
    );
    assert_eq!(stats.defmt_lines, 2);
    let (replayed, _) = replay_text(&capture, Some(decoder(None)));
    assert_eq!(replayed, live);
}

#[test]
fn a_timestamp_in_other_units_is_a_field() {
    let (dispatch, out) = json_output();
    let (memory, rtt) = target();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .report_attach(|_| {})
            .with_defmt(
                decoder(Some("{=u64} ticks")),
                ChannelSelector::Index(1),
                true,
            );
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        poll_once(&mut session, &rtt, &[], &defmt(2, Some(77), &[]));
        assert_eq!(session.stats().defmt_lines, 1);
    });
    let event: serde_json::Value = serde_json::from_str(out.text().trim()).unwrap();
    assert_eq!(event["fields"]["message"], "plain");
    assert_eq!(event["fields"]["timestamp"], "77 ticks");
    assert_eq!(event["target"], "defmt");
}

#[test]
fn garbage_on_the_defmt_channel_is_a_warning_and_the_next_line_arrives() {
    let (dispatch, out) = json_output();
    let (memory, rtt) = target();
    let stats = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .report_attach(|_| {})
            .with_defmt(decoder(None), ChannelSelector::name("defmt"), true);
        assert!(matches!(session.poll().unwrap(), Poll::Attached(_)));
        let mut bytes = defmt(40, None, &[]); // no such statement
        bytes.extend(defmt(0, None, &[9]));
        poll_once(&mut session, &rtt, &[], &bytes);
        session.stats()
    });
    assert_eq!((stats.defmt_lines, stats.defmt_errors), (1, 1));
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("not a defmt frame of this ELF's table"),
        "{text}"
    );
    assert!(lines[1].contains("hello 9"), "{text}");
}

#[test]
fn a_missing_defmt_channel_fails_the_attach_only_when_required() {
    let mut memory = ram();
    let rtt = SimRtt::builder(CB)
        .up("rtt-tunnel", 1024)
        .build(&mut memory);
    rtt.init(&mut memory);
    let (dispatch, _out) = json_output();
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut session = Session::new(RttReader::new(&mut memory, options()), Receiver::default())
            .report_attach(|_| {})
            .with_defmt(decoder(None), ChannelSelector::name("defmt"), true);
        let error = session.poll().unwrap_err();
        assert!(
            matches!(error, SessionError::Rtt(RttError::ChannelNotFound { .. })),
            "{error}"
        );
        assert!(
            error.to_string().contains("up channel 'defmt' not found"),
            "{error}"
        );
        drop(session);

        let mut session = Session::new(RttReader::new(memory, options()), Receiver::default())
            .report_attach(|_| {})
            .with_defmt(decoder(None), ChannelSelector::name("defmt"), false);
        let Poll::Attached(attachment) = session.poll().unwrap() else {
            panic!("no attach")
        };
        assert_eq!(attachment.extra_up, [None]);
        let vals = messages();
        let frames = first_poll_frames(&vals);
        rtt.write_up(session.reader_mut().memory_mut(), 0, &frames);
        assert_eq!(session.poll().unwrap(), Poll::Data(frames.len()));
        // The Hello, 4 call sites, 7 span and event frames.
        assert_eq!(session.stats().frames, 12);
    });
}
