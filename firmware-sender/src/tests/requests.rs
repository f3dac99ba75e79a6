//! The host's requests on the down channel: re-send everything, change the level.

use std::vec::Vec;

use rtt_tunnel_protocol::{LevelFilter as WireLevel, Request};
use tracing_core::LevelFilter;

use super::ring::{fill, Small};
use super::{set_now, Target};

fn filler() -> tracing::Span {
    tracing::info_span!("x")
}

#[test]
fn resend_all_sends_hello_call_sites_and_live_spans_oldest_first() {
    let t = <Target>::started();
    t.run(|| {
        let x0 = filler();
        let x1 = filler();
        let x2 = filler();
        let parent = tracing::info_span!("parent");
        drop(x0);
        let _in_parent = parent.enter();
        // Takes slot 0, freed by x0: a lower slot than its parent's.
        let child = tracing::info_span!("child");
        assert_eq!(child.id().map(|id| id.into_u64()), Some(5));
        let _in_child = child.enter();
        let _again = child.enter();
        tracing::info!("before");
        t.frames();

        set_now(3000);
        t.request(Request::ResendAll);
        t.tunnel.poll();
        assert_eq!(
            t.frames(),
            [
                "+3000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0",
                "+0 callsite 0 Span Info x []",
                "+0 callsite 1 Span Info parent []",
                "+0 callsite 2 Span Info child []",
                "+0 callsite 3 Event Info event [message]",
                "+0 live 2 cs0 root entered=0",
                "+0 live 3 cs0 root entered=0",
                "+0 live 4 cs1 root entered=1",
                "+0 live 1 cs2 parent=4 entered=2",
            ]
        );
        t.tunnel.poll();
        assert!(t.frames().is_empty(), "sent once");
        drop((x1, x2));
    });
    assert_eq!(
        t.frames(),
        [
            "+0 close 2",
            "+0 close 3",
            "+0 exit 1",
            "+0 exit 1",
            "+0 close 1",
            "+0 exit 4",
            "+0 close 4",
        ]
    );
}

/// Polls until nothing more comes out, collecting what each poll wrote.
fn poll_all(t: &Small) -> Vec<std::vec::Vec<std::string::String>> {
    let mut polls = Vec::new();
    for _ in 0..8 {
        t.tunnel.poll();
        let frames = t.frames();
        if frames.is_empty() {
            break;
        }
        polls.push(frames);
    }
    polls
}

#[test]
fn a_resend_that_does_not_fit_goes_on_at_the_next_poll() {
    let t = Small::started();
    t.run(|| {
        let spans: Vec<_> = (0..4).map(|_| filler()).collect();
        t.frames();
        fill(&t);
        t.request(Request::ResendAll);
        let polls = poll_all(&t);
        assert!(
            polls.len() > 2,
            "the 256-byte ring takes it in several polls"
        );
        let first = &polls[0];
        assert_eq!(first.len(), 28, "the 27 events in the ring, then the hello");
        assert_eq!(first[27], "+1000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0");
        let rest: Vec<_> = polls[1..].concat();
        assert_eq!(
            rest,
            [
                "+0 callsite 0 Span Info x []",
                "+0 callsite 1 Event Info event [n]",
                "+0 live 1 cs0 root entered=0",
                "+0 live 2 cs0 root entered=0",
                "+0 live 3 cs0 root entered=0",
                "+0 live 4 cs0 root entered=0",
            ]
        );
        drop(spans);
    });
}

#[test]
fn a_span_the_host_missed_is_revived_by_a_resend() {
    let t = Small::started();
    fill(&t);
    t.run(|| {
        let span = tracing::info_span!("missed");
        let _in_span = span.enter();
        assert_eq!(t.tunnel.stats().frames_dropped, 1);
        t.frames();
        t.request(Request::ResendAll);
        assert_eq!(
            poll_all(&t).concat(),
            [
                "+1000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0",
                // The loss is made good first: the span whose `NewSpan` was lost, then the
                // state the host must have.
                "+0 callsite 1 Span Info missed []",
                "+0 live 1 cs1 root entered=1",
                "+0 resync live=[1] entered=[1]",
                "+0 dropped 1",
                "+0 callsite 0 Event Info event [n]",
            ]
        );
    });
    assert_eq!(t.frames(), ["+0 exit 1", "+0 close 1"]);
}

#[test]
fn set_level_filters_at_runtime() {
    let t = <Target>::started_alone();
    t.request(Request::SetLevel(WireLevel::Warn));
    // Under the test's dispatcher: on the host, tracing rebuilds the interest cache from the
    // calling thread's default dispatcher.
    t.run(|| t.tunnel.poll());
    assert_eq!(t.tunnel.level(), LevelFilter::WARN);
    let both = || {
        tracing::info!("info");
        tracing::warn!("warn");
    };
    t.run(both);
    assert_eq!(
        t.frames(),
        [
            "+0 callsite 0 Event Warn event [message]",
            "+0 event cs0 current 0=`warn`",
        ]
    );
    t.request(Request::SetLevel(WireLevel::Trace));
    t.run(|| t.tunnel.poll());
    assert_eq!(t.tunnel.level(), LevelFilter::TRACE);
    t.run(both);
    assert_eq!(
        t.frames(),
        [
            "+0 callsite 1 Event Info event [message]",
            "+0 event cs1 current 0=`info`",
            "+0 event cs0 current 0=`warn`",
        ]
    );
    t.request(Request::SetLevel(WireLevel::Off));
    t.run(|| t.tunnel.poll());
    t.run(|| tracing::error!("error"));
    assert!(t.frames().is_empty());
}

#[test]
fn garbage_and_unknown_requests_on_the_down_channel_are_skipped() {
    let t = <Target>::started_alone();
    // Not COBS, then a valid frame of an unknown request tag.
    assert!(t
        .tunnel
        .with_link(|l| l.push_down(&[0x05, 0x01, 0x00, 0x02, 0x09, 0x00]))
        .unwrap());
    t.tunnel.poll();
    t.request(Request::SetLevel(WireLevel::Error));
    t.tunnel.poll();
    assert_eq!(t.tunnel.level(), LevelFilter::ERROR);
    assert!(t.frames().is_empty());
}

#[test]
fn requests_split_across_polls_are_reassembled() {
    let t = <Target>::started_alone();
    let mut buf = [0u8; 8];
    let n = Request::SetLevel(WireLevel::Debug)
        .encode_frame(&mut buf)
        .unwrap();
    assert!(t.tunnel.with_link(|l| l.push_down(&buf[..1])).unwrap());
    t.tunnel.poll();
    assert_eq!(t.tunnel.level(), LevelFilter::TRACE);
    assert!(t.tunnel.with_link(|l| l.push_down(&buf[1..n])).unwrap());
    t.tunnel.poll();
    assert_eq!(t.tunnel.level(), LevelFilter::DEBUG);
}

#[test]
fn a_resent_hello_carries_the_hosts_time_across_a_clock_wrap() {
    /// An 8-bit counter: wraps every 256 ticks.
    struct Narrow;
    impl crate::Clock for Narrow {
        const BITS: u32 = 8;
        fn now() -> u64 {
            super::FakeClock::now()
        }
    }
    let _guard = super::Guard::shared();
    let tunnel: &'static crate::Tunnel<crate::MemoryLink<4096>, Narrow, 4, 8, 4, 256> =
        std::boxed::Box::leak(std::boxed::Box::new(crate::Tunnel::new()));
    set_now(1000);
    tunnel
        .connect(crate::MemoryLink::new(), super::IDENTITY)
        .unwrap();
    let dispatch = tunnel.dispatch();
    set_now(1100);
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("tick"));
    set_now(1200);
    let mut buf = [0u8; 16];
    let n = Request::ResendAll.encode_frame(&mut buf).unwrap();
    tunnel.with_link(|l| l.push_down(&buf[..n])).unwrap();
    tunnel.poll();
    let mut bytes = std::vec![0u8; 4096];
    let len = tunnel.with_link(|l| l.drain_up(&mut bytes)).unwrap();
    // 1000 is 232 modulo 256; the host's time then runs on: 332 for the event, 432 for the
    // re-sent hello (not 1200 modulo 256).
    assert_eq!(
        super::render_all(&bytes[..len]),
        [
            "+232 hello v3 boot=7 hz=1000000 fw=test-fw 1.0",
            "+100 callsite 0 Event Info event [message]",
            "+0 event cs0 current 0=`tick`",
            "+432 hello v3 boot=7 hz=1000000 fw=test-fw 1.0",
            "+0 callsite 0 Event Info event [message]",
        ]
    );
}

#[test]
fn a_request_is_served_without_poll_within_request_check_operations() {
    let t = <Target>::started();
    t.run(|| {
        let job = tracing::info_span!("job");
        let _in_job = job.enter();
        tracing::info!("before");
        t.frames();

        t.request(Request::ResendAll);
        let check =
            usize::from(crate::Tunnel::<crate::MemoryLink<8>, super::FakeClock>::REQUEST_CHECK);
        let mut served_after = None;
        for n in 1..=check {
            tracing::info!("work");
            if t.frames().iter().any(|f| f.contains("hello")) {
                served_after = Some(n);
                break;
            }
        }
        let n = served_after.expect("the re-send came within REQUEST_CHECK operations");
        assert!(n <= check);
        // Served once: the request was read.
        for _ in 0..2 * check {
            tracing::info!("work");
        }
        assert!(!t.frames().iter().any(|f| f.contains("hello")));
    });
}

#[test]
fn without_a_request_the_operations_write_only_their_own_frames() {
    let t = <Target>::started();
    t.run(|| {
        t.frames();
        let check =
            usize::from(crate::Tunnel::<crate::MemoryLink<8>, super::FakeClock>::REQUEST_CHECK);
        for _ in 0..3 * check {
            tracing::info!("work");
        }
        let frames = t.frames();
        // The call site's announcement, then the events.
        assert!(frames[0].contains("callsite"), "{frames:?}");
        assert_eq!(frames.len(), 3 * check + 1);
        assert!(
            frames[1..].iter().all(|f| f.contains(" event ")),
            "{frames:?}"
        );
    });
}
