//! Texts the target sends by reference (protocol `Value::FlashText`): resolved from a source
//! the receiver owns (the ELF), from target memory lent for a poll, or from a capture's
//! records; placeholders that say why when none has them; never a panic.

mod receiver_support;
mod sim_support;

use receiver_support::*;
use sim_support::SharedBuf;

use std::sync::atomic::AtomicBool;

use rtt_tunnel_host::capture::{replay, CaptureReader, CaptureSource, CaptureWriter, Record};
use rtt_tunnel_host::memory::{MemoryFlash, SimMemory};
use rtt_tunnel_host::pipeline::{Drain, DrainEnd, Pipeline};
use rtt_tunnel_host::receiver::{FlashSource, Receiver};
use rtt_tunnel_protocol::{FrameBuilder, Hello, Message, Parent, Value, Values, PROTOCOL_VERSION};

/// Where the test firmware's flash starts.
const BASE: u32 = 0x0000_4000;

/// Flash holding `ready`, then two bytes that are not UTF-8.
struct Flash {
    reads: u32,
}

impl FlashSource for Flash {
    fn read_flash(&mut self, address: u64, len: usize) -> Result<Vec<u8>, String> {
        self.reads += 1;
        let bytes = b"ready\xff\xfe";
        let at = (address - u64::from(BASE)) as usize;
        bytes
            .get(at..at + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "beyond the test flash".to_owned())
    }
}

fn hello_at(base: u32) -> Message<'static> {
    Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        boot: 1,
        tick_hz: 1_000_000,
        firmware: FIRMWARE,
        flash_base: base,
        // The test flash: `ready`.
        flash_len: 5,
    })
}

/// The messages of the events the log holds, as text.
fn messages(log: &Log) -> Vec<String> {
    log.events()
        .into_iter()
        .filter_map(|op| match op {
            Op::Event { fields, .. } => {
                fields
                    .into_iter()
                    .find(|(name, _)| name == "message")
                    .map(|(_, value)| match value {
                        Val::Debug(text) | Val::Str(text) => text,
                        other => format!("{other:?}"),
                    })
            }
            _ => None,
        })
        .collect()
}

/// Hello, the call site of `info!("ready")`, its first event (by reference), a second one
/// (the marker).
fn ready_frames(reference: Value<'static>) -> Vec<(Message<'static>, Vals)> {
    vec![
        (hello_at(BASE), Vals::new(&[])),
        (event_site(0, "event", &["message"]), Vals::new(&[])),
        (
            event(0, Parent::Current, Values::EMPTY),
            Vals::new(&[(0, reference)]),
        ),
        (
            event(0, Parent::Current, Values::EMPTY),
            Vals::new(&[(0, Value::SameConstant)]),
        ),
    ]
}

/// The frames on the wire, one after the other.
fn wire(frames: &[(Message<'static>, Vals)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (message, values) in frames {
        let mut buf = [0u8; 256];
        let mut builder = FrameBuilder::new(&mut buf);
        builder.push_message(message).unwrap();
        builder
            .push_values(|w| {
                for v in values.values() {
                    w.push(v.field, v.value)?;
                }
                Ok::<(), rtt_tunnel_protocol::EncodeError>(())
            })
            .unwrap();
        out.extend_from_slice(builder.seal(1).unwrap());
    }
    out
}

const READY: Value<'static> = Value::FlashText { offset: 0, len: 5 };

#[test]
fn a_reference_is_read_once_from_the_receivers_source_and_shown_with_its_text() {
    let log = with_capture(|| {
        let mut rx = Receiver::default().with_flash_source(Flash { reads: 0 });
        let mut bytes = wire(&ready_frames(READY));
        let mut relay = Pipeline::new();
        relay.feed(&mut bytes, &mut rx).unwrap();
        assert_eq!(rx.unresolved_flash_texts(), 0);
        assert_eq!(relay.stats(&rx).errors(), 0);
    });
    assert_eq!(messages(&log), ["ready", "ready"]);
}

/// A live run with no ELF, the text read from target memory and recorded: what it showed,
/// and the capture.
fn record_from_target_memory() -> (Log, Vec<u8>) {
    // Target memory with the text in its flash, as a session without an ELF reads it.
    let mut memory = SimMemory::new();
    memory.add_rom(u64::from(BASE), b"ready");
    let file = SharedBuf::default();
    let live = with_capture(|| {
        let mut rx = Receiver::default();
        let mut relay = Pipeline::new().with_capture(CaptureWriter::new(file.clone()).unwrap());
        let mut bytes = wire(&ready_frames(READY));
        relay
            .feed_poll_with(
                &mut bytes,
                &[],
                &mut rx,
                Some(&mut MemoryFlash::new(&mut memory)),
            )
            .unwrap();
        assert_eq!(rx.unresolved_flash_texts(), 0);
        // A second poll with the same reference reads nothing more.
        let mut bytes = wire(&ready_frames(READY)[2..]);
        relay
            .feed_poll_with(
                &mut bytes,
                &[],
                &mut rx,
                Some(&mut MemoryFlash::new(&mut memory)),
            )
            .unwrap();
    });
    assert_eq!(memory.stats().reads, 1, "one read of target memory");
    (live, file.bytes())
}

#[test]
fn target_memory_resolves_a_reference_and_the_capture_records_it_for_replay() {
    let (live, file) = record_from_target_memory();
    assert_eq!(messages(&live), ["ready", "ready", "ready", "ready"]);

    // The capture: the poll's data, then the text it needed, once.
    let records: Vec<Record> = CaptureReader::new(&file[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(matches!(records[0], Record::Data(_)), "{records:?}");
    assert!(matches!(records[1], Record::Boot(_)), "{records:?}");
    assert_eq!(
        records[2],
        Record::FlashText {
            address: u64::from(BASE),
            text: "ready".into()
        }
    );
    assert!(matches!(records[3], Record::Data(_)), "{records:?}");
    assert_eq!(records.len(), 4, "{records:?}");

    // Replayed with no target and no ELF: the recorded text.
    let replayed = with_capture(|| {
        let mut rx = Receiver::default();
        let stats = replay(&mut CaptureReader::new(&file[..]).unwrap(), &mut rx).unwrap();
        assert_eq!(stats.unresolved_texts, 0);
        assert_eq!(stats.errors(), 0);
    });
    assert_eq!(messages(&replayed), ["ready", "ready", "ready", "ready"]);
}

/// The capture as a byte source: the recorded text reaches the receiver before the bytes of
/// the poll that needed it, as in [`replay`].
#[test]
fn a_capture_drained_as_a_byte_source_shows_its_recorded_texts() {
    let (live, file) = record_from_target_memory();
    let drained = with_capture(|| {
        let mut rx = Receiver::default();
        let source = CaptureSource::new(CaptureReader::new(&file[..]).unwrap());
        let mut drain = Drain::new(source, Pipeline::new());
        let end = drain.run(&mut rx, &AtomicBool::new(false)).unwrap();
        assert_eq!(end, DrainEnd::Ended);
        let stats = drain.stats(&rx);
        assert_eq!(stats.unresolved_texts, 0, "{stats}");
        assert_eq!(stats.errors(), 0, "{stats}");
    });
    assert_eq!(messages(&drained), ["ready", "ready", "ready", "ready"]);
    let replayed = with_capture(|| {
        let mut rx = Receiver::default();
        replay(&mut CaptureReader::new(&file[..]).unwrap(), &mut rx).unwrap();
    });
    assert_eq!(drained.ops(), replayed.ops());
    assert_eq!(drained.ops(), live.ops());
}

#[test]
fn references_nothing_resolves_are_placeholders_that_say_why_and_are_counted() {
    let log = with_capture(|| {
        let mut rx = Receiver::default();
        let mut bytes = wire(&ready_frames(READY));
        let mut relay = Pipeline::new();
        relay.feed(&mut bytes, &mut rx).unwrap();
        let stats = relay.stats(&rx);
        assert_eq!(stats.unresolved_texts, 1);
        assert_eq!(stats.errors(), 0);
        assert!(
            stats
                .to_string()
                .contains("texts sent by reference not resolved: 1"),
            "{stats}"
        );
        // Bytes that are not UTF-8, from the receiver's source.
        let mut rx = Receiver::default().with_flash_source(Flash { reads: 0 });
        let mut bytes = wire(&ready_frames(Value::FlashText { offset: 5, len: 2 }));
        relay.feed(&mut bytes, &mut rx).unwrap();
        // Beyond what the source has.
        let mut rx = Receiver::default().with_flash_source(Flash { reads: 0 });
        let mut bytes = wire(&ready_frames(Value::FlashText {
            offset: 0x1c4,
            len: u32::MAX,
        }));
        relay.feed(&mut bytes, &mut rx).unwrap();
        assert_eq!(relay.stats(&rx).errors(), 0);
    });
    let placeholder = "<flash text +0x0, 5 bytes: no ELF>".to_owned();
    let utf8 = "<flash text +0x5, 2 bytes: not UTF-8>".to_owned();
    let beyond = "<flash text +0x1c4, 4294967295 bytes: beyond the test flash>".to_owned();
    assert_eq!(
        messages(&log),
        [
            placeholder.clone(),
            placeholder,
            utf8.clone(),
            utf8,
            beyond.clone(),
            beyond
        ]
    );
}
