//! Host tests: the sender against an in-memory ring and a fake clock, its output decoded with
//! the protocol crate and rendered as one line per frame.

use std::boxed::Box;
use std::cell::Cell;
use std::format;
use std::string::{String, ToString};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::vec::Vec;

use rtt_tunnel_protocol::{Feed, Frame, FrameSplitter, Message, Parent, Request, Value, Values};
use tracing_core::Dispatch;

use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};

use crate::{Clock, Identity, Link, MemoryLink, Sender, Tunnel};

mod capacity;
mod constants;
mod lifecycle;
mod owed;
mod requests;
mod ring;
mod values;

std::thread_local! {
    static NOW: Cell<u64> = const { Cell::new(0) };
}

/// The test's clock: per thread, so tests run in parallel.
pub(crate) struct FakeClock;

impl Clock for FakeClock {
    fn now() -> u64 {
        NOW.with(Cell::get)
    }
}

pub(crate) fn set_now(t: u64) {
    NOW.with(|n| n.set(t));
}

/// A [`MemoryLink`] that lends room for frames to be sealed in place, as `RttLink` does
/// (into a buffer of its own, whose frame then goes into the ring): the host tests take the
/// sender's path through [`Link::write_in_place`] and `seal.rs` whenever the ring has room
/// enough, and `FrameBuilder::seal_in` otherwise (tests with a plain `MemoryLink` take it
/// always).
pub(crate) struct SealingLink<const UP: usize>(MemoryLink<UP>);

impl<const UP: usize> SealingLink<UP> {
    pub(crate) const fn new() -> Self {
        Self(MemoryLink::new())
    }
}

impl<const UP: usize> Deref for SealingLink<UP> {
    type Target = MemoryLink<UP>;
    fn deref(&self) -> &MemoryLink<UP> {
        &self.0
    }
}

impl<const UP: usize> DerefMut for SealingLink<UP> {
    fn deref_mut(&mut self) -> &mut MemoryLink<UP> {
        &mut self.0
    }
}

impl<const UP: usize> Link for SealingLink<UP> {
    fn write_frame(&mut self, frame: &[u8]) -> bool {
        self.0.write_frame(frame)
    }

    fn write_in_place(
        &mut self,
        need: usize,
        encode: impl FnOnce(&mut [MaybeUninit<u8>]) -> usize,
    ) -> bool {
        let mut room = [MaybeUninit::new(0u8); 512];
        if UP - self.0.up_len() < need || need > room.len() {
            return false;
        }
        let n = encode(&mut room).min(need);
        // SAFETY: all of `room` is initialised.
        let frame: Vec<u8> = room[..n]
            .iter()
            .map(|b| unsafe { b.assume_init() })
            .collect();
        n > 0 && self.0.write_frame(&frame)
    }

    fn read_down(&mut self, buf: &mut [u8]) -> usize {
        self.0.read_down(buf)
    }

    fn down_pending(&mut self) -> bool {
        self.0.down_pending()
    }

    fn up_drained(&mut self) -> bool {
        self.0.up_drained()
    }
}

/// tracing keeps one interest cache and one maximum level for all dispatchers, and with a
/// single live dispatcher it rebuilds them from the calling thread's alone: a test that
/// changes the level would filter the tests running beside it. Those tests run alone.
static LEVELS: RwLock<()> = RwLock::new(());

#[allow(dead_code)] // held for its drop
pub(crate) enum Guard {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

impl Guard {
    pub(crate) fn shared() -> Self {
        Self::Shared(LEVELS.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn exclusive() -> Self {
        Self::Exclusive(LEVELS.write().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A tunnel of its own (leaked, as a firmware's static), connected at time 1000, with a
/// dispatcher to run code under.
pub(crate) struct Target<
    const UP: usize = 4096,
    const SPANS: usize = 4,
    const CALLSITES: usize = 8,
    const DEPTH: usize = 4,
    const FRAME: usize = 256,
> {
    pub(crate) tunnel: &'static Tunnel<SealingLink<UP>, FakeClock, SPANS, CALLSITES, DEPTH, FRAME>,
    pub(crate) dispatch: Dispatch,
    pub(crate) _guard: Guard,
}

pub(crate) const IDENTITY: Identity = Identity {
    boot: 7,
    tick_hz: 1_000_000,
    firmware: "test-fw 1.0",
};

impl<
        const UP: usize,
        const SPANS: usize,
        const CALLSITES: usize,
        const DEPTH: usize,
        const FRAME: usize,
    > Target<UP, SPANS, CALLSITES, DEPTH, FRAME>
{
    /// Connected; its `Hello` not yet drained.
    pub(crate) fn new() -> Self {
        Self::with_guard(Guard::shared())
    }

    fn with_guard(guard: Guard) -> Self {
        let tunnel = Self::unconnected();
        set_now(1000);
        tunnel.connect(SealingLink::new(), IDENTITY).unwrap();
        Self {
            tunnel,
            dispatch: tunnel.dispatch(),
            _guard: guard,
        }
    }

    /// Connected, its `Hello` drained.
    pub(crate) fn started() -> Self {
        Self::drained(Self::new())
    }

    /// [`started`](Self::started), for a test that changes the level: no other test runs.
    pub(crate) fn started_alone() -> Self {
        Self::drained(Self::with_guard(Guard::exclusive()))
    }

    fn drained(target: Self) -> Self {
        let hello = target.frames();
        assert_eq!(hello, ["+1000 hello v3 boot=7 hz=1000000 fw=test-fw 1.0"]);
        target
    }

    pub(crate) fn unconnected(
    ) -> &'static Tunnel<SealingLink<UP>, FakeClock, SPANS, CALLSITES, DEPTH, FRAME> {
        Box::leak(Box::new(Tunnel::new()))
    }

    pub(crate) fn sender(
        &self,
    ) -> Sender<SealingLink<UP>, FakeClock, SPANS, CALLSITES, DEPTH, FRAME> {
        self.tunnel.sender()
    }

    /// Runs `f` with this target's dispatcher as the default.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Drains the ring and renders every frame; fails on any byte that is not part of a whole,
    /// valid frame.
    pub(crate) fn frames(&self) -> Vec<String> {
        let bytes = self.drain();
        render_all(&bytes)
    }

    pub(crate) fn drain(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.tunnel
            .with_link(|link| {
                let mut buf = [0u8; 256];
                loop {
                    let n = link.drain_up(&mut buf);
                    if n == 0 {
                        break;
                    }
                    bytes.extend_from_slice(&buf[..n]);
                }
            })
            .unwrap();
        bytes
    }

    /// Sends a request on the down channel, as the host does.
    pub(crate) fn request(&self, request: Request) {
        let mut buf = [0u8; 16];
        let n = request.encode_frame(&mut buf).unwrap();
        assert!(self.tunnel.with_link(|l| l.push_down(&buf[..n])).unwrap());
    }

    pub(crate) fn ring_len(&self) -> usize {
        self.tunnel.with_link(|l| l.up_len()).unwrap()
    }
}

pub(crate) fn render_all(mut input: &[u8]) -> Vec<String> {
    let mut splitter = FrameSplitter::<512>::new();
    let mut out = Vec::new();
    loop {
        match splitter.feed(input) {
            Feed::Consumed => break,
            Feed::Frame { frame, rest } => {
                let frame = Frame::decode(frame).expect("a valid frame");
                out.push(render(&frame));
                input = rest;
            }
            Feed::Error { error, .. } => panic!("not a whole frame: {error}"),
        }
    }
    assert_eq!(splitter.pending(), 0, "a partial frame at the end");
    out
}

fn parent(p: Parent) -> String {
    match p {
        Parent::Current => "current".to_string(),
        Parent::Root => "root".to_string(),
        Parent::Explicit(id) => format!("parent={}", id.0),
    }
}

fn values(values: Values<'_>) -> String {
    let mut s = String::new();
    for v in values {
        let value = match v.value {
            Value::Bool(b) => format!("{b}"),
            Value::I64(i) => format!("{i}i"),
            Value::U64(u) => format!("{u}u"),
            Value::I128(i) => format!("{i}i128"),
            Value::U128(u) => format!("{u}u128"),
            Value::F64(f) => format!("{f}f"),
            Value::Str(s) => format!("{s:?}"),
            Value::Debug { text, truncated } => {
                format!("`{text}{}`", if truncated { "…" } else { "" })
            }
            Value::Constant(text) => format!("const`{text}`"),
            Value::SameConstant => "same".to_string(),
            Value::FlashText { offset, len } => format!("ref`{}`", flash_text(offset, len)),
        };
        s += &format!(" {}={value}", v.field);
    }
    s
}

/// A stand-in for the firmware's flash on the host: the test binary's read-only data around
/// a string literal (the stack, where the tests' other strings live, is far away).
pub(crate) fn flash() -> core::ops::Range<usize> {
    let literal = "a literal in read-only data".as_ptr() as usize;
    literal.saturating_sub(1 << 26)..literal.saturating_add(1 << 26)
}

/// The text a reference of the tests' [`flash`] points at, as the host would read it from
/// target memory.
fn flash_text(offset: u32, len: u32) -> String {
    let at = (flash().start + offset as usize) as *const u8;
    // SAFETY: the sender makes a reference only of a `&str` it was handed that lies in
    // `flash()`: these are that string's bytes, in the test binary's read-only data.
    let bytes = unsafe { core::slice::from_raw_parts(at, len as usize) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// One line per frame: `+dt message`. Call sites of events are shown as `event` (their name
/// holds a line number).
pub(crate) fn render(frame: &Frame<'_>) -> String {
    let body = match frame.message {
        Message::Hello(h) => format!(
            "hello v{} boot={} hz={} fw={}",
            h.version, h.boot, h.tick_hz, h.firmware
        ),
        Message::CallSite(c) => {
            let name = if c.name.starts_with("event ") {
                "event"
            } else {
                c.name
            };
            let fields: Vec<&str> = c.fields.iter().collect();
            format!(
                "callsite {} {:?} {:?} {name} [{}]",
                c.id.0,
                c.kind,
                c.level,
                fields.join(",")
            )
        }
        Message::Event {
            callsite,
            parent: p,
            values: v,
        } => format!("event cs{} {}{}", callsite.0, parent(p), values(v)),
        Message::NewSpan {
            id,
            callsite,
            parent: p,
            values: v,
        } => format!("new {} cs{} {}{}", id.0, callsite.0, parent(p), values(v)),
        Message::Enter(id) => format!("enter {}", id.0),
        Message::Exit(id) => format!("exit {}", id.0),
        Message::Close(id) => format!("close {}", id.0),
        Message::Clone(id) => format!("clone {}", id.0),
        Message::Record { span, values: v } => format!("record {}{}", span.0, values(v)),
        Message::FollowsFrom { span, follows } => format!("follows {} {}", span.0, follows.0),
        Message::Dropped { frames } => format!("dropped {frames}"),
        Message::LiveSpan(l) => format!(
            "live {} cs{} {} entered={}",
            l.id.0,
            l.callsite.0,
            parent(l.parent),
            l.entered
        ),
        Message::Resync(r) => {
            let ids = |l: rtt_tunnel_protocol::SpanIds<'_>| {
                l.iter()
                    .map(|id| id.0.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!("resync live=[{}] entered=[{}]", ids(r.live), ids(r.entered))
        }
        Message::Status(c) => format!(
            "status spans={} enters={} events={} values_dropped={} cut={}",
            c.spans_untracked,
            c.enters_untracked,
            c.events_untracked,
            c.values_dropped,
            c.values_truncated
        ),
    };
    format!("{:+} {body}", frame.dt)
}
