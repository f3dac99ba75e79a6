//! Full tables degrade cleanly and are counted: spans, call sites, the entered stack.

use std::vec::Vec;

use tracing_core::span::Id;
use tracing_core::Subscriber;

use super::Target;
use crate::spans::UNTRACKED_ID;

#[test]
fn a_full_span_table_gives_untracked_spans_whose_events_still_go_out() {
    let t = <Target>::started();
    let s = t.sender();
    t.run(|| {
        let spans: Vec<_> = (0..4).map(|_| tracing::info_span!("held")).collect();
        let extra = tracing::info_span!("extra", n = 1);
        assert_eq!(extra.id(), Some(Id::from_u64(UNTRACKED_ID)));
        let outer = spans[0].enter();
        {
            let _in_extra = extra.enter();
            // The target's current span is the tracked one, as the host's is.
            assert_eq!(s.current_span().id(), Some(&Id::from_u64(1)));
            tracing::info!("inside extra");
            tracing::info!(parent: &extra, "explicit");
            extra.record("n", 2);
            let child = tracing::info_span!(parent: &extra, "child");
            assert_eq!(child.id(), Some(Id::from_u64(UNTRACKED_ID)));
            assert_eq!(
                s.clone_span(&Id::from_u64(UNTRACKED_ID)),
                Id::from_u64(UNTRACKED_ID)
            );
            assert!(!s.try_close(Id::from_u64(UNTRACKED_ID)));
        }
        drop(outer);
        drop(extra);
        drop(spans);
        // A freed slot tracks spans again, under a new id.
        let again = tracing::info_span!("again");
        assert_eq!(again.id(), Some(Id::from_u64(5)));
    });
    assert_eq!(
        t.frames(),
        [
            "+0 callsite 0 Span Info held []",
            "+0 new 1 cs0 current",
            "+0 new 2 cs0 current",
            "+0 new 3 cs0 current",
            "+0 new 4 cs0 current",
            "+0 enter 1",
            "+0 callsite 2 Event Info event [message]",
            "+0 event cs2 current 0=`inside extra`",
            "+0 callsite 3 Event Info event [message]",
            "+0 event cs3 parent=0 0=`explicit`",
            "+0 exit 1",
            "+0 close 1",
            "+0 close 2",
            "+0 close 3",
            "+0 close 4",
            "+0 callsite 5 Span Info again []",
            "+0 new 1 cs5 current",
            "+0 close 1",
        ]
    );
    let stats = t.tunnel.stats();
    assert_eq!(stats.spans_untracked, 2);
    assert_eq!(stats.frames_dropped, 0);
    // The call sites of the untracked spans are announced by `poll`, for later use.
    t.tunnel.poll();
    assert_eq!(
        t.frames(),
        [
            "+0 status spans=2 enters=0 events=0 values_dropped=0 cut=0",
            "+0 callsite 1 Span Info extra [n]",
            "+0 callsite 4 Span Info child []",
        ]
    );
}

#[test]
fn a_full_call_site_table_drops_new_call_sites_and_counts_them() {
    let t = Target::<4096, 4, 2>::started();
    let one = || tracing::info!("one");
    t.run(|| {
        one();
        tracing::info!("two");
        tracing::info!("three");
        let span = tracing::info_span!("four");
        assert_eq!(span.id(), Some(Id::from_u64(UNTRACKED_ID)));
        one();
    });
    assert_eq!(
        t.frames(),
        [
            "+0 callsite 0 Event Info event [message]",
            "+0 event cs0 current 0=`one`",
            "+0 callsite 1 Event Info event [message]",
            "+0 event cs1 current 0=`two`",
            "+0 event cs0 current 0=`one`",
        ]
    );
    let stats = t.tunnel.stats();
    assert_eq!((stats.events_untracked, stats.spans_untracked), (1, 1));
}

#[test]
fn a_full_entered_stack_refuses_enters_cleanly() {
    let t = <Target>::started();
    let s = t.sender();
    t.run(|| {
        let spans: Vec<_> = (0..4).map(|_| tracing::info_span!("s")).collect();
        let guards: Vec<_> = spans.iter().map(|s| s.enter()).collect();
        let again = spans[0].enter();
        // Refused: the current span stays the last one pushed, on target and host.
        assert_eq!(s.current_span().id(), Some(&Id::from_u64(4)));
        tracing::info!("deep");
        // Its exit cancels the refused enter, not span 1's first entry.
        drop(again);
        assert_eq!(s.current_span().id(), Some(&Id::from_u64(4)));
        drop(guards);
    });
    let frames = t.frames();
    assert_eq!(
        frames[5..],
        [
            "+0 enter 1",
            "+0 enter 2",
            "+0 enter 3",
            "+0 enter 4",
            "+0 callsite 1 Event Info event [message]",
            "+0 event cs1 current 0=`deep`",
            "+0 exit 1",
            "+0 exit 2",
            "+0 exit 3",
            "+0 exit 4",
            "+0 close 1",
            "+0 close 2",
            "+0 close 3",
            "+0 close 4",
        ]
    );
    assert_eq!(t.tunnel.stats().enters_untracked, 1);
}
