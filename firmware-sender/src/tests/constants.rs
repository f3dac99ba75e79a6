//! Texts in flash: a constant message or a static `&str` goes once per call site by reference
//! (offset from the start of flash, length), a constant the host keeps, then as a one-byte
//! marker; formatted text and strings in RAM go in full.

use rtt_tunnel_protocol::Request;

use super::{flash, Target};

#[test]
fn a_constant_message_goes_once_then_as_a_marker() {
    let t = <Target>::started();
    t.tunnel.set_flash(flash());
    t.run(|| {
        for _ in 0..3 {
            tracing::info!("ready");
        }
    });
    let frames = t.frames();
    // The flash moved after the first `Hello`: it goes again, with the new start.
    assert!(frames[0].contains(" hello v3 "), "{frames:?}");
    assert_eq!(
        frames[2..],
        [
            "+0 event cs0 current 0=ref`ready`",
            "+0 event cs0 current 0=same",
            "+0 event cs0 current 0=same",
        ]
    );
}

#[test]
fn static_strs_are_constants_and_strings_in_ram_are_not() {
    let t = <Target>::started();
    t.tunnel.set_flash(flash());
    let on_stack = *b"hello";
    let in_ram = core::str::from_utf8(&on_stack).unwrap();
    t.run(|| {
        for (n, note) in ["hello", in_ram, "hello", "other"].into_iter().enumerate() {
            tracing::info!(note, n = 1u8, "n = {}", n % 2);
        }
    });
    let frames = t.frames();
    assert_eq!(
        frames[2..],
        [
            // The message is formatted: text every time. The note is a constant...
            "+0 event cs0 current 0=`n = 0` 1=ref`hello` 2=1u",
            // ...but not this one, on the stack.
            "+0 event cs0 current 0=`n = 1` 1=\"hello\" 2=1u",
            "+0 event cs0 current 0=`n = 0` 1=same 2=1u",
            // Another constant replaces it.
            "+0 event cs0 current 0=`n = 1` 1=ref`other` 2=1u",
        ]
    );
}

#[test]
fn without_flash_every_text_goes_in_full() {
    let t = <Target>::started();
    t.run(|| {
        for _ in 0..2 {
            tracing::info!(note = "hello", "ready");
        }
    });
    let frames = t.frames();
    assert_eq!(
        frames[1..],
        [
            "+0 event cs0 current 0=`ready` 1=\"hello\"",
            "+0 event cs0 current 0=`ready` 1=\"hello\"",
        ]
    );
}

#[test]
fn a_resend_sends_the_constant_again_and_a_dropped_marker_costs_nothing() {
    let t = <Target<512>>::started();
    t.tunnel.set_flash(flash());
    let ready = || tracing::info!("ready");
    t.run(ready);
    assert_eq!(t.frames()[2..], ["+0 event cs0 current 0=ref`ready`"]);
    // The host asks for everything again: it forgets the constant with the call site.
    t.request(Request::ResendAll);
    t.tunnel.poll();
    t.run(ready);
    let frames = t.frames();
    assert!(frames[0].contains("hello"), "{frames:?}");
    assert_eq!(frames.last().unwrap(), "+0 event cs0 current 0=ref`ready`");
    // The frame with the constant finds the ring full and is dropped: the next one carries
    // the constant again.
    let set = || tracing::info!("set");
    t.run(|| {
        set(); // announced, and the host keeps its constant
        while t.tunnel.stats().frames_dropped == 0 {
            tracing::info!(n = 1u8, "{}", "some text to fill the ring with");
        }
    });
    let _ = t.frames();
    t.run(|| {
        // Fill the ring again, then the marker cannot go out either: dropped.
        while t.tunnel.stats().frames_dropped < 2 {
            tracing::info!(n = 1u8, "{}", "some text to fill the ring with");
        }
        set();
    });
    let _ = t.frames();
    t.tunnel.poll();
    t.run(|| {
        set();
        set();
    });
    let frames = t.frames();
    assert_eq!(frames[0], "+0 resync live=[] entered=[]", "{frames:?}");
    assert!(frames[1].starts_with("+0 dropped"), "{frames:?}");
    // A dropped marker costs nothing more: the host still has the constant.
    assert_eq!(
        frames[2..],
        ["+0 event cs1 current 0=same", "+0 event cs1 current 0=same"]
    );
}
