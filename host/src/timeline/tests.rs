use std::io;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use super::*;
use crate::target_time::{set_current, TargetTime};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fails every write.
struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other("disk full"))
    }
}

fn at(ticks: i64, epoch: u64) -> TargetTime {
    TargetTime {
        ticks,
        tick_hz: NonZeroU64::new(1_000_000),
        boot: Some(1),
        epoch,
    }
}

/// Runs `f` under a registry with the timeline; returns the parsed events and the stats.
fn export(timeline: Timeline, f: impl FnOnce()) -> (Vec<Value>, TimelineStats) {
    let out = Shared::default();
    let (layer, handle) = Timeline {
        out: Box::new(out.clone()),
        ..timeline
    }
    .build();
    let dispatch = tracing_core::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing_core::dispatcher::with_default(&dispatch, f);
    let stats = handle.finish().expect("written");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let events: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (events, stats)
}

fn phases(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(|e| {
            format!(
                "{}:{}@{}",
                e["ph"].as_str().unwrap(),
                e["name"].as_str().unwrap(),
                e["ts"].as_f64().unwrap()
            )
        })
        .collect()
}

#[test]
fn spans_are_slices_and_events_instants_in_target_time() {
    let (events, stats) = export(Timeline::new(io::sink()), || {
        let _t = set_current(at(10, 0));
        let outer = tracing::info_span!(target: "fw", "outer", round = 3_u32);
        outer.record("round", 4_u32);
        {
            let _t = set_current(at(1_500, 0));
            let entered = outer.enter();
            let _t = set_current(at(2_000, 0));
            tracing::warn!(target: "fw::x", value = 1.5, "hot");
            let inner = tracing::debug_span!(target: "fw", "inner");
            for ticks in [3_000, 4_000] {
                let _t = set_current(at(ticks, 0));
                let _i = inner.enter();
            }
            let _t = set_current(at(5_000, 0));
            drop(entered);
        }
    });
    assert_eq!(
        phases(&events),
        [
            "B:outer@1500",
            "i:hot@2000",
            "B:inner@3000",
            "E:inner@3000",
            "B:inner@4000",
            "E:inner@4000",
            "E:outer@5000",
        ]
    );
    let begin = &events[3];
    assert_eq!(begin["cat"], "fw");
    assert_eq!(begin["args"]["round"], 4);
    assert_eq!(begin["tid"], THREAD_MODE_TID);
    let hot = events.iter().find(|e| e["name"] == "hot").unwrap();
    assert_eq!(hot["args"]["level"], "WARN");
    assert_eq!(hot["args"]["target"], "fw::x");
    assert_eq!(hot["args"]["value"], 1.5);
    assert_eq!(hot["s"], "t");
    let names: Vec<_> = events
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| e["args"]["name"].clone())
        .filter(|n| !n.is_null())
        .collect();
    assert_eq!(names, ["target", THREAD_MODE_TRACK]);
    assert_eq!(
        stats,
        TimelineStats {
            slices: 3,
            instants: 1,
            ..TimelineStats::default()
        }
    );
}

#[test]
fn an_exit_out_of_order_ends_and_begins_again_the_slices_above() {
    let (events, stats) = export(Timeline::new(io::sink()), || {
        let _t = set_current(at(1, 0));
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b", k = "v");
        a.with_subscriber(|(id, d)| d.enter(id));
        b.with_subscriber(|(id, d)| d.enter(id));
        let _t = set_current(at(2, 0));
        a.with_subscriber(|(id, d)| d.exit(id));
        let _t = set_current(at(3, 0));
        b.with_subscriber(|(id, d)| d.exit(id));
    });
    assert_eq!(
        phases(&events),
        ["B:a@1", "B:b@1", "E:b@2", "E:a@2", "B:b@2", "E:b@3"]
    );
    assert_eq!(events.last().unwrap()["ph"], "E");
    let again = events
        .iter()
        .filter(|e| e["name"] == "b" && e["ph"] == "B")
        .nth(1)
        .unwrap();
    assert_eq!(again["args"]["k"], "v");
    assert_eq!(stats.slices, 2);
}

#[test]
fn finish_ends_open_slices_at_the_last_time_and_marks_them() {
    let (events, stats) = export(Timeline::new(io::sink()), || {
        let _t = set_current(at(7, 0));
        let span = tracing::info_span!("open");
        std::mem::forget(span.enter());
        let _t = set_current(at(9, 0));
        tracing::info!("last");
    });
    let p = phases(&events);
    assert_eq!(p[..3], ["B:open@7", "i:last@9", "E:open@9"]);
    let end = events.iter().find(|e| e["ph"] == "E").unwrap();
    assert_eq!(end["args"][UNFINISHED_ARG], true);
    let marker = events.last().unwrap();
    assert_eq!(marker["s"], "g");
    assert_eq!(marker["args"]["slices"], 1);
    assert_eq!(stats.unfinished, 1);
    assert_eq!(stats.markers, 1);
}

#[test]
fn after_a_reset_time_goes_on_and_the_receivers_events_are_markers() {
    let (events, _) = export(Timeline::new(io::sink()), || {
        {
            let _t = set_current(at(5_000, 0));
            tracing::info!("before");
        }
        {
            let _t = set_current(at(100, 1));
            tracing::warn!(target: RECEIVER_TARGET, resets = 1_u64, "target reset");
            tracing::info!("after");
        }
        // A relay outside a frame (no target time): the last time.
        tracing::info!("host side");
    });
    assert_eq!(
        phases(&events),
        [
            "i:before@5000",
            "i:target reset@5100",
            "i:after@5100",
            "i:host side@5100"
        ]
    );
    let reset = &events.iter().find(|e| e["name"] == "target reset").unwrap();
    assert_eq!(reset["s"], "g");
    assert_eq!(reset["cat"], RECEIVER_TARGET);
}

#[test]
fn nanoseconds_are_kept_and_unknown_rates_are_microsecond_ticks() {
    let (events, _) = export(Timeline::new(io::sink()), || {
        let _t = set_current(TargetTime {
            ticks: 25_000_001,
            tick_hz: NonZeroU64::new(25_000_000),
            boot: None,
            epoch: 0,
        });
        tracing::info!("fast clock");
        let _t = set_current(TargetTime {
            ticks: 2_000_001,
            tick_hz: None,
            boot: None,
            epoch: 0,
        });
        tracing::info!("no rate");
    });
    assert_eq!(
        phases(&events),
        ["i:fast clock@1000000.04", "i:no rate@2000001"]
    );
}

#[test]
fn counters_follow_a_numeric_field() {
    let (events, stats) = export(Timeline::new(io::sink()).counter("temp"), || {
        let _t = set_current(at(1, 0));
        tracing::info!(temp = 21_u32, "a");
        tracing::info!(temp = "warm", "not a number");
        let span = tracing::info_span!("s", temp = 20.5, other = 1);
        span.record("temp", -3_i64);
    });
    let points: Vec<_> = events
        .iter()
        .filter(|e| e["ph"] == "C")
        .map(|e| e["args"]["temp"].clone())
        .collect();
    assert_eq!(
        points,
        [Value::from(21), Value::from(20.5), Value::from(-3)]
    );
    assert_eq!(stats.counter_points, 3);
}

#[test]
fn a_failing_writer_is_reported_once_and_the_other_layers_go_on() {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reported);
    let (layer, handle) = Timeline::new(Full)
        .on_error(move |e| seen.lock().unwrap().push(e.to_string()))
        .build();
    let other = Shared::default();
    let text = crate::output::Output::new(crate::output::Format::Compact)
        .filter("trace")
        .layer_with_writer({
            let other = other.clone();
            move || other.clone()
        })
        .unwrap();
    let dispatch =
        tracing_core::Dispatch::new(tracing_subscriber::registry().with(layer).with(text));
    tracing_core::dispatcher::with_default(&dispatch, || {
        let _t = set_current(at(1, 0));
        for i in 0..10_000 {
            tracing::info!(i, "many");
        }
    });
    let error = handle.finish().unwrap_err();
    assert!(matches!(error, TimelineError::Write { .. }), "{error}");
    assert!(error.to_string().contains("disk full"), "{error}");
    assert_eq!(reported.lock().unwrap().len(), 1);
    let lines = String::from_utf8(other.0.lock().unwrap().clone()).unwrap();
    assert_eq!(lines.lines().count(), 10_000);
    // A second finish says the same.
    assert!(handle.finish().is_err());
}

#[test]
fn nothing_relayed_is_an_empty_array() {
    let (events, stats) = export(Timeline::new(io::sink()), || {});
    assert!(events.is_empty());
    assert_eq!(stats, TimelineStats::default());
}

#[test]
fn create_names_the_file_that_cannot_be_created() {
    let error = Timeline::create("/nonexistent-dir/x.json").unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent-dir/x.json"),
        "{error}"
    );
}

#[test]
fn handlers_get_tracks_of_their_own_named_from_the_firmware() {
    use crate::target_time::{frame_scope, set_frame};
    let names = [(20, "UART0".to_string())].into_iter().collect();
    let (events, stats) = export(Timeline::new(io::sink()).track_names(names), || {
        // Each step as the frame of a target in thread mode or in a handler.
        let _scope = frame_scope();
        let t = at(1, 0);
        set_frame(0, t.ticks, || t);
        let outer = tracing::info_span!("outer");
        let entered = outer.enter();
        {
            set_frame(15, t.ticks, || t);
            let tick = tracing::info_span!("tick");
            let _tick = tick.enter();
            tracing::info!("in SysTick");
        }
        set_frame(20, t.ticks, || t);
        tracing::info!("in UART0");
        set_frame(21, t.ticks, || t);
        tracing::info!("in IRQ5");
        set_frame(0, t.ticks, || t);
        drop(entered);
    });
    let tracks: std::collections::BTreeMap<u64, String> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tracks.into_iter().collect::<Vec<_>>(),
        [
            (0, THREAD_MODE_TRACK.to_owned()),
            (15, "SysTick".to_owned()),
            (20, "UART0".to_owned()),
            (21, "IRQ5".to_owned()),
        ]
    );
    let on = |name: &str| {
        events
            .iter()
            .find(|e| e["name"] == name && e["ph"] != "E")
            .unwrap()["tid"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        [
            on("outer"),
            on("tick"),
            on("in SysTick"),
            on("in UART0"),
            on("in IRQ5")
        ],
        [0, 15, 15, 20, 21]
    );
    assert_eq!(stats.slices, 2);
}
