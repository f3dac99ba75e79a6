//! What a loss makes due: the `Resync` (and `LiveSpan`s) before the next frame, so the host's
//! spans and entered stack equal the target's; `flush` at the end; the capacity `Status`.

use std::vec::Vec;

use super::{set_now, Target};

/// A ring of 1 KiB.
type Small = Target<1024, 4, 8, 4, 256>;

/// Fills the ring with events until one is dropped.
fn fill_until_dropped(t: &Small) {
    let before = t.tunnel.stats().frames_dropped;
    while t.tunnel.stats().frames_dropped == before {
        tracing::info!(n = 1u32);
    }
}

#[test]
fn lost_exits_and_closes_are_made_good_before_the_next_frame() {
    let t = Small::started();
    t.run(|| {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let c = tracing::info_span!("c");
        let in_a = a.enter();
        let in_b = b.enter();
        let in_c = c.enter();
        t.frames();
        fill_until_dropped(&t);
        // Lost: the exit of c, the exits of b and the close of b; a new span `d` whose
        // `NewSpan` is lost takes b's slot. (A first `Resync` and `Dropped` may still fit.)
        drop(in_c);
        drop(in_b);
        drop(b);
        let d = tracing::info_span!("d");
        let _in_d = d.enter();
        let dropped = t.tunnel.stats().frames_dropped;
        assert!(dropped >= 5, "{dropped}");
        let reported: u32 = t
            .frames()
            .iter()
            .filter_map(|f| f.strip_prefix("+0 dropped "))
            .map(|n| n.parse::<u32>().unwrap())
            .sum();
        set_now(2000);
        tracing::info!(parent: &c, "after");
        let frames = t.frames();
        // Before the event: the state without b (gone) and c's entry, so that d, revived
        // next in b's slot, is not taken for b; then the state with d entered, the report,
        // then the event.
        assert_eq!(
            frames,
            [
                "+1000 resync live=[1,3] entered=[1]",
                "+0 callsite 4 Span Info d []",
                "+0 live 2 cs4 parent=1 entered=1",
                "+0 resync live=[1,2,3] entered=[1,2]",
                &std::format!("+0 dropped {}", dropped - reported),
                "+0 callsite 5 Event Info event [message]",
                "+0 event cs5 parent=3 0=`after`",
            ]
        );
        drop(in_a);
    });
}

#[test]
fn flush_writes_everything_pending_while_the_host_reads() {
    let t = Small::started();
    t.run(|| {
        let _span = tracing::info_span!("open").entered();
        fill_until_dropped(&t);
    });
    // Nothing reads the ring: the tries run out, and that is counted.
    assert!(!t.tunnel.flush(3, || {}));
    assert_eq!(t.tunnel.stats().flushes_incomplete, 1);
    // A host that reads between tries gets everything.
    let mut read = Vec::new();
    assert!(t.tunnel.flush(10, || read.extend(t.frames())));
    read.extend(t.frames());
    let stats = t.tunnel.stats();
    let reported: u32 = read
        .iter()
        .filter_map(|f| f.strip_prefix("+0 dropped "))
        .map(|n| n.parse::<u32>().unwrap())
        .sum();
    assert_eq!(reported, stats.frames_dropped, "{read:?}");
    assert!(read.iter().any(|f| f.contains(" resync ")), "{read:?}");
    // Nothing is left: a flush that finds nothing pending needs no wait.
    assert!(t.tunnel.flush(1, || unreachable!("nothing to wait for")));
}

#[test]
fn capacity_counters_go_to_the_host_when_they_change() {
    let t = <Target>::started();
    t.run(|| {
        let held: Vec<_> = (0..5).map(|_| tracing::info_span!("held")).collect();
        let entered: Vec<_> = held.iter().map(|s| s.enter()).collect();
        // The stack (4) is full: re-entering the first span is not tracked.
        let again = held[0].enter();
        t.tunnel.poll();
        drop(again);
        drop(entered);
    });
    let frames = t.frames();
    assert!(
        frames.contains(&"+0 status spans=1 enters=1 events=0 values_dropped=0 cut=0".into()),
        "{frames:?}"
    );
    // Only a change makes a new one.
    t.tunnel.poll();
    assert!(t.frames().is_empty());
}
