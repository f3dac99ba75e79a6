//! Frames from exception handlers: a handler's spans and events are not children of the
//! thread-mode span the interrupt preempted (unless the target parented them there
//! explicitly), and thread-mode code never gets a handler's span as parent; with
//! `HandlerParents::Preempted`, the target's one stack as before. Layers see each frame's
//! context through `target_time::current_exception`.

mod receiver_support;

use std::sync::{Arc, Mutex};

use receiver_support::*;
use rtt_tunnel_host::receiver::{HandlerParents, Receiver};
use rtt_tunnel_protocol::{Frame, Message, Parent, Values};
use tracing_subscriber::layer::SubscriberExt;

const SYSTICK: u16 = 15;
const PENDSV: u16 = 14;

fn in_context(rx: &mut Receiver, exception: u16, messages: Vec<Message<'static>>) {
    for message in messages {
        rx.receive(Frame {
            exception,
            dt: 1,
            message,
        });
    }
}

/// Thread mode enters `outer` (span 1); SysTick preempts it: an event, a span `inner`
/// (span 2) entered with an event in it, and an event parented explicitly to `outer`; PendSV
/// preempts SysTick inside `inner` with an event; back in thread mode, an event.
fn preempted(rx: &mut Receiver) {
    in_context(
        rx,
        0,
        vec![new_span(1, 1, Parent::Current), Message::Enter(span(1))],
    );
    in_context(
        rx,
        SYSTICK,
        vec![
            event(0, Parent::Current, Values::EMPTY),
            new_span(2, 2, Parent::Current),
            Message::Enter(span(2)),
            event(0, Parent::Current, Values::EMPTY),
            event(0, Parent::Explicit(span(1)), Values::EMPTY),
        ],
    );
    in_context(rx, PENDSV, vec![event(0, Parent::Current, Values::EMPTY)]);
    in_context(
        rx,
        SYSTICK,
        vec![Message::Exit(span(2)), Message::Close(span(2))],
    );
    in_context(rx, 0, vec![event(0, Parent::Current, Values::EMPTY)]);
}

#[test]
fn handlers_do_not_nest_in_the_span_they_preempted() {
    let log = with_capture(|| {
        let mut rx = started();
        preempted(&mut rx);
    });
    let ops = log.ops();
    assert!(
        ops.contains(&new_span_op("inner#1", None, vec![])),
        "{ops:#?}"
    );
    assert_eq!(
        event_parents(&ops),
        [
            None,                   // SysTick, nothing entered in it yet
            Some("inner#1".into()), // SysTick, inside its own span
            Some("outer#1".into()), // SysTick, explicitly parented
            None,                   // PendSV preempting SysTick
            Some("outer#1".into()), // thread mode again
        ]
    );
}

#[test]
fn thread_mode_never_gets_a_handlers_span_as_parent() {
    let log = with_capture(|| {
        let mut rx = started();
        in_context(
            &mut rx,
            SYSTICK,
            vec![new_span(2, 2, Parent::Current), Message::Enter(span(2))],
        );
        // Thread mode traces while the handler's span is still entered (a handler that
        // left it entered).
        in_context(&mut rx, 0, vec![event(0, Parent::Current, Values::EMPTY)]);
    });
    assert_eq!(event_parents(&log.ops()), [None]);
}

#[test]
fn preempted_keeps_the_targets_one_stack() {
    let log = with_capture(|| {
        let mut rx = started().with_handler_parents(HandlerParents::Preempted);
        preempted(&mut rx);
    });
    let ops = log.ops();
    assert!(
        ops.contains(&new_span_op("inner#1", Some("outer#1"), vec![])),
        "{ops:#?}"
    );
    assert_eq!(
        event_parents(&ops),
        [
            Some("outer#1".into()),
            Some("inner#1".into()),
            Some("outer#1".into()),
            Some("inner#1".into()),
            Some("outer#1".into()),
        ]
    );
}

#[test]
fn layers_see_each_frames_context() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let layer = ContextLayer(Arc::clone(&seen));
    let dispatch = tracing_core::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        preempted(&mut rx);
    });
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(15), Some(15), Some(15), Some(14), Some(0)]
    );
    assert_eq!(rtt_tunnel_host::target_time::current_exception(), None);
}

/// Records `current_exception()` at each event.
struct ContextLayer(Arc<Mutex<Vec<Option<u16>>>>);

impl<S: tracing_core::Subscriber> tracing_subscriber::Layer<S> for ContextLayer {
    fn on_event(
        &self,
        _event: &tracing_core::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0
            .lock()
            .unwrap()
            .push(rtt_tunnel_host::target_time::current_exception());
    }
}

/// `message` as the target writes it from `exception`: COBS-encoded, with its delimiter.
fn wire_frame(exception: u16, message: Message<'_>) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let frame = Frame {
        exception,
        dt: 1,
        message,
    };
    let n = frame.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn a_pipeline_publishes_each_frames_context_and_none_for_its_own_warnings() {
    use rtt_tunnel_host::pipeline::Pipeline;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let layer = ContextLayer(Arc::clone(&seen));
    let dispatch = tracing_core::Dispatch::new(tracing_subscriber::registry().with(layer));
    let mut wire = wire_frame(SYSTICK, event(0, Parent::Current, Values::EMPTY));
    // Not COBS (a code byte that points past the frame's end): the pipeline warns about it.
    wire.extend_from_slice(&[0x09, 0x01, 0x00]);
    wire.extend(wire_frame(0, event(0, Parent::Current, Values::EMPTY)));
    tracing_core::dispatcher::with_default(&dispatch, || {
        let mut rx = started();
        let mut pipeline = Pipeline::new();
        assert_eq!(pipeline.feed(&mut wire, &mut rx).unwrap(), 2);
        assert_eq!(pipeline.stats(&rx).frame_errors, 1);
    });
    // The handler's event, the pipeline's warning (no frame's context), the thread-mode event.
    assert_eq!(*seen.lock().unwrap(), [Some(SYSTICK), None, Some(0)]);
    assert_eq!(rtt_tunnel_host::target_time::current_exception(), None);
    assert_eq!(rtt_tunnel_host::target_time::current(), None);
}
