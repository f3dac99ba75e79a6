//! The structural checks of an exported timeline (`rtt_tunnel_host::timeline`), against what
//! the receiver relayed.

use std::collections::BTreeMap;

use rtt_tunnel_host::timeline::{TARGET_PID, THREAD_MODE_TID, THREAD_MODE_TRACK, UNFINISHED_ARG};
use serde_json::Value;

use crate::layer::{is_receiver_event, Entry, Op};

/// What a timeline holds, once its structure is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineShape {
    /// Slices (begin/end pairs), per track name.
    pub slices: BTreeMap<String, usize>,
    /// Instants on a track (the target's events).
    pub instants: usize,
    /// Global markers (the receiver's events, and the end-of-trace marker).
    pub markers: usize,
    /// Slices ended by the exporter at the end of the trace.
    pub unfinished: usize,
    /// The deepest nesting of slices seen on the thread-mode track.
    pub thread_depth: usize,
}

impl TimelineShape {
    /// All slices, on every track.
    pub fn total_slices(&self) -> usize {
        self.slices.values().sum()
    }
}

/// Checks the structure of the timeline `json`: a JSON array of trace events of the target
/// process; every track named; on each track, times that never go back, and slices that
/// begin before they end and nest (each end closes the slice begun last, by name); nothing
/// left open.
///
/// # Errors
///
/// What is wrong, with the event's index.
pub fn check_structure(json: &[u8]) -> Result<TimelineShape, String> {
    let events: Vec<Value> =
        serde_json::from_slice(json).map_err(|e| format!("not a JSON array: {e}"))?;
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut last_ts: BTreeMap<u64, f64> = BTreeMap::new();
    let mut stacks: BTreeMap<u64, Vec<(String, f64)>> = BTreeMap::new();
    let mut shape = TimelineShape::default();
    for (i, event) in events.iter().enumerate() {
        let field = |name: &str| {
            event
                .get(name)
                .ok_or(format!("event {i} has no {name}: {event}"))
        };
        let ph = field("ph")?.as_str().ok_or(format!("event {i}: ph"))?;
        if field("pid")? != &Value::from(TARGET_PID) {
            return Err(format!("event {i} is not of the target process: {event}"));
        }
        let tid = field("tid")?.as_u64().ok_or(format!("event {i}: tid"))?;
        if ph == "M" {
            if field("name")? == "thread_name" {
                let name = event["args"]["name"]
                    .as_str()
                    .ok_or(format!("event {i}: name"))?;
                names.insert(tid, name.to_owned());
            }
            continue;
        }
        let track = names
            .get(&tid)
            .ok_or(format!(
                "event {i} is on track {tid}, which has no name yet"
            ))?
            .clone();
        let ts = field("ts")?.as_f64().ok_or(format!("event {i}: ts"))?;
        let last = last_ts.entry(tid).or_insert(f64::MIN);
        if ts < *last {
            return Err(format!(
                "event {i}: time goes back on track {track:?}: {ts} after {last}"
            ));
        }
        *last = ts;
        let name = field("name")?.as_str().ok_or(format!("event {i}: name"))?;
        let stack = stacks.entry(tid).or_default();
        match ph {
            "B" => {
                stack.push((name.to_owned(), ts));
                if tid == u64::from(THREAD_MODE_TID) {
                    shape.thread_depth = shape.thread_depth.max(stack.len());
                }
            }
            "E" => {
                let (open, begun) = stack.pop().ok_or(format!(
                    "event {i}: {name:?} ends on {track:?} with no slice open"
                ))?;
                if open != name {
                    return Err(format!(
                        "event {i}: {name:?} ends on {track:?} while {open:?} is the slice \
                         begun last: slices do not nest"
                    ));
                }
                if ts < begun {
                    return Err(format!("event {i}: {name:?} ends before it begins"));
                }
                if event["args"][UNFINISHED_ARG] == true {
                    shape.unfinished += 1;
                }
                *shape.slices.entry(track).or_default() += 1;
            }
            "i" => match event["s"].as_str() {
                Some("t") => shape.instants += 1,
                Some("g") => shape.markers += 1,
                other => return Err(format!("event {i}: instant of scope {other:?}")),
            },
            "C" => {}
            other => return Err(format!("event {i}: unexpected phase {other:?}")),
        }
    }
    for (tid, stack) in &stacks {
        if let Some((name, _)) = stack.last() {
            return Err(format!("slice {name:?} on track {tid} never ends"));
        }
    }
    if !names.is_empty()
        && names.get(&u64::from(THREAD_MODE_TID)).map(String::as_str) != Some(THREAD_MODE_TRACK)
    {
        return Err(format!(
            "track {THREAD_MODE_TID} is not named {THREAD_MODE_TRACK:?}: {names:?}"
        ));
    }
    Ok(shape)
}

/// Checks `json` ([`check_structure`]) and that it holds what the receiver relayed in `ops`
/// (the operations up to the timeline's end): a slice per span enter, an instant per event of
/// the target, a marker per event of the receiver (and one more when slices were still open
/// at the end).
///
/// # Errors
///
/// What differs.
pub fn check_against(json: &[u8], ops: &[Entry]) -> Result<TimelineShape, String> {
    let shape = check_structure(json)?;
    let enters = ops.iter().filter(|e| matches!(e.op, Op::Enter(_))).count();
    let events = ops
        .iter()
        .filter(|e| matches!(e.op, Op::Event { .. }) && !is_receiver_event(&e.op))
        .count();
    let receiver = ops.iter().filter(|e| is_receiver_event(&e.op)).count();
    let end_marker = usize::from(shape.unfinished > 0);
    if shape.total_slices() != enters {
        return Err(format!(
            "{} slices for {enters} span enters relayed: {:?}",
            shape.total_slices(),
            shape.slices
        ));
    }
    if shape.instants != events {
        return Err(format!(
            "{} instants for {events} events relayed",
            shape.instants
        ));
    }
    if shape.markers != receiver + end_marker {
        return Err(format!(
            "{} markers for {receiver} receiver events relayed (+{end_marker} for the end)",
            shape.markers
        ));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<TimelineShape, String> {
        let head = r#"{"ph":"M","pid":1,"tid":0,"ts":0,"name":"thread_name","args":{"name":"thread mode"}}"#;
        check_structure(format!("[{head},{text}]").as_bytes())
    }

    #[test]
    fn nesting_slices_pass() {
        let shape = check(
            r#"{"ph":"B","name":"a","pid":1,"tid":0,"ts":1},{"ph":"B","name":"b","pid":1,"tid":0,"ts":2},
               {"ph":"i","name":"x","s":"t","pid":1,"tid":0,"ts":2},{"ph":"E","name":"b","pid":1,"tid":0,"ts":3},
               {"ph":"E","name":"a","pid":1,"tid":0,"ts":4,"args":{"unfinished":true}}"#,
        )
        .unwrap();
        assert_eq!(shape.total_slices(), 2);
        assert_eq!(shape.instants, 1);
        assert_eq!(shape.unfinished, 1);
        assert_eq!(shape.thread_depth, 2);
    }

    #[test]
    fn broken_timelines_fail() {
        let crossing = r#"{"ph":"B","name":"a","pid":1,"tid":0,"ts":1},{"ph":"B","name":"b","pid":1,"tid":0,"ts":2},
               {"ph":"E","name":"a","pid":1,"tid":0,"ts":3},{"ph":"E","name":"b","pid":1,"tid":0,"ts":4}"#;
        assert!(check(crossing).unwrap_err().contains("do not nest"));
        let back = r#"{"ph":"i","name":"x","s":"t","pid":1,"tid":0,"ts":2},{"ph":"i","name":"y","s":"t","pid":1,"tid":0,"ts":1}"#;
        assert!(check(back).unwrap_err().contains("goes back"));
        let open = r#"{"ph":"B","name":"a","pid":1,"tid":0,"ts":1}"#;
        assert!(check(open).unwrap_err().contains("never ends"));
        let unnamed = r#"{"ph":"B","name":"a","pid":1,"tid":3,"ts":1}"#;
        assert!(check(unnamed).unwrap_err().contains("no name"));
        let orphan = r#"{"ph":"E","name":"a","pid":1,"tid":0,"ts":1}"#;
        assert!(check(orphan).unwrap_err().contains("no slice open"));
    }
}
