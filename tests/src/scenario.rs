//! The scenarios of the `scenarios` firmware: running one in QEMU through the GDB transport and
//! a [`Session`], replaying its recorded capture, and where the fixtures live.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rtt_tunnel_host::capture::{replay, CaptureReader, CaptureWriter};
use rtt_tunnel_host::elf::FirmwareElf;
use rtt_tunnel_host::gdb::{GdbMemory, GdbOptions};
use rtt_tunnel_host::qemu::{Qemu, QemuOptions, QemuOutput};
use rtt_tunnel_host::receiver::Receiver;
use rtt_tunnel_host::rtt::{ChannelSelector, RttOptions, RttReader};
use rtt_tunnel_host::session::{RunEnd, RunOptions, Session, SessionStats};
use rtt_tunnel_host::timeline::{Timeline, TimelineHandle};
use rtt_tunnel_protocol::Request;

use crate::boards::{firmware, require_qemu, Board};
use crate::layer::{is_receiver_event, render, span_name, Collapse, Entry, Log, Normalise, Op};

/// How long one scenario may run in QEMU before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The environment variable that makes the QEMU tests write their captures as fixtures
/// (`cargo xtask bless` sets it).
pub const BLESS_ENV: &str = "RTT_TUNNEL_BLESS";

/// The message the `late_attach` firmware sends before it waits for the host's request.
pub const LATE_ATTACH_WAITING: &str = "waiting for the host";

/// A scenario of the `scenarios` firmware (`boards/qemu/src/bin/scenarios/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Nested spans, re-entered spans, `record`, `follows_from`, explicit parents, clones.
    Nested,
    /// `#[instrument]` functions with arguments, `skip`, `fields`, `ret`, `err`, recursion.
    Instrument,
    /// Every value kind, and values cut short.
    Values,
    /// Spans and events from PendSV and SysTick while thread-mode spans are entered.
    Interrupt,
    /// A burst that overflows the ring; the firmware reports its own drop count.
    Burst,
    /// A reset in the middle of entered spans.
    Reset,
    /// A panic inside entered spans.
    Panic,
    /// A host that attaches late and asks for a re-send.
    LateAttach,
    /// Late `record`, clones, re-entrance, explicit and `None` parents, 128-bit integers, NaN,
    /// unicode, long `Debug` (the differential test runs it natively too). Not in
    /// [`ALL`](Self::ALL): no snapshot or fixture.
    Tricky,
    /// Spans and events in a loop without waiting for the host: frames of every kind lost,
    /// made good by the sender's `Resync`. Not in [`ALL`](Self::ALL): it varies from run to run.
    Churn,
    /// 64 spans alive and nesting 40 deep: past the sender's span table and entered stack.
    /// Not in [`ALL`](Self::ALL).
    Capacity,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 8] = [
        Scenario::Nested,
        Scenario::Instrument,
        Scenario::Values,
        Scenario::Interrupt,
        Scenario::Burst,
        Scenario::Reset,
        Scenario::Panic,
        Scenario::LateAttach,
    ];

    /// The firmware's name for it (QEMU's `-append`), also the snapshot's name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Nested => "nested",
            Scenario::Instrument => "instrument",
            Scenario::Values => "values",
            Scenario::Interrupt => "interrupt",
            Scenario::Burst => "burst",
            Scenario::Reset => "reset",
            Scenario::Panic => "panic",
            Scenario::LateAttach => "late_attach",
            Scenario::Tricky => "tricky",
            Scenario::Churn => "churn",
            Scenario::Capacity => "capacity",
        }
    }

    /// The firmware's exit code when the scenario goes as planned.
    pub fn expected_exit_code(self) -> i32 {
        match self {
            Scenario::Panic => 1,
            _ => 0,
        }
    }

    /// What varies from run to run in its text.
    pub fn normalise(self) -> Normalise {
        match self {
            Scenario::Burst => Normalise {
                collapse: Some(Collapse {
                    matches: is_burst_traffic,
                    text: "[the burst: events that made it and `target dropped` warnings, \
                           checked by the test]",
                }),
                volatile_fields: &["dropped"],
            },
            _ => Normalise::default(),
        }
    }

    /// The text of `ops` for the snapshot.
    pub fn render(self, ops: &[Entry]) -> String {
        render(ops, &self.normalise())
    }

    /// The recorded capture of this scenario on `board`.
    pub fn fixture(self, board: &Board) -> PathBuf {
        fixtures_dir().join(format!("{}-{}.rttcap", self.name(), board.machine))
    }
}

/// The burst's own events, and the receiver's reports of frames dropped during it.
pub fn is_burst_traffic(op: &Op) -> bool {
    match op.message() {
        Some("burst event") => true,
        Some(message) => is_receiver_event(op) && message.starts_with("target dropped"),
        None => false,
    }
}

/// Where the recorded captures live (`tests/fixtures/`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Whether this test run records fixtures (see [`BLESS_ENV`]).
pub fn blessing() -> bool {
    std::env::var_os(BLESS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// One run of a scenario.
#[derive(Debug)]
pub struct Run {
    /// The scenario.
    pub scenario: Scenario,
    /// What the host subscriber saw, with target times.
    pub ops: Vec<Entry>,
    /// What the session relayed.
    pub stats: SessionStats,
    /// The firmware's exit code (QEMU's): `None` for a replay.
    pub exit_code: Option<i32>,
    /// The capture file the session recorded (for `late_attach`: after the late attach).
    pub capture: Vec<u8>,
    /// What QEMU printed (the firmware's semihosting output, then QEMU's standard error).
    pub qemu_output: String,
    /// The timeline exported beside the capturing layer (`rtt_tunnel_host::timeline`).
    pub timeline: Vec<u8>,
    /// How many of [`ops`](Self::ops) came before the timeline was finished (the rest: the
    /// receiver closing what the target left open).
    pub timeline_ops: usize,
}

impl Run {
    /// The text for the snapshot.
    pub fn text(&self) -> String {
        self.scenario.render(&self.ops)
    }
}

/// A `Write` into a buffer shared with the test (the session owns its capture writer).
#[derive(Debug, Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `scenario` in QEMU on `board`: builds the firmware (once per process), starts QEMU
/// halted with `-append <scenario>`, drains rtt-tunnel's up channel through QEMU's gdbstub with
/// a [`Session`] into a [`Receiver`] under the capture layer ([`Log`]), recording a capture, until the
/// firmware exits; then waits for QEMU's exit code.
///
/// `late_attach` first drains with a throwaway receiver until the firmware says it waits,
/// closes that session, and attaches again with a session that asks for a re-send; only the
/// second session is captured and recorded.
///
/// # Panics
///
/// When QEMU is missing, the build fails, or the run does not end within [`PATIENCE`].
pub fn run_in_qemu(scenario: Scenario, board: &Board) -> Run {
    require_qemu();
    let elf_path = firmware("scenarios", board);
    let started = Instant::now();
    let elf = FirmwareElf::read(&elf_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", elf_path.display()));
    let rtt = RttOptions::from_elf(&elf)
        .unwrap_or_else(|e| panic!("no RTT control block in {}: {e}", elf_path.display()))
        .up_channel(ChannelSelector::name("rtt-tunnel"))
        .down_channel(ChannelSelector::name("rtt-tunnel"));
    let mut options = QemuOptions::new(&elf_path)
        .machine(board.machine)
        .output(QemuOutput::Capture);
    options.extra_args = vec!["-append".into(), scenario.name().into()];
    let (mut qemu, mut gdb) = Qemu::launch(&options, GdbOptions::default())
        .unwrap_or_else(|e| panic!("launching QEMU for {}: {e}", board.machine));
    let context = |qemu: &Qemu| {
        format!(
            "{} on {}; QEMU printed: {}{}",
            scenario.name(),
            board.machine,
            qemu.stdout(),
            qemu.stderr()
        )
    };

    if scenario == Scenario::LateAttach {
        drain_until_waiting(&mut gdb, &rtt, &qemu, &context);
    }

    let log = Log::default();
    let recorded = SharedBuffer::default();
    let capture = CaptureWriter::new(recorded.clone()).expect("writing into memory");
    let timeline = SharedBuffer::default();
    let (timeline_layer, exporter) = Timeline::new(timeline.clone()).build();
    let dispatch = log.dispatch_with(timeline_layer);
    let (end, stats, timeline_ops) = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut session =
            Session::new(RttReader::new(&mut gdb, rtt), Receiver::default()).with_capture(capture);
        if scenario == Scenario::LateAttach {
            session = session.on_attach([Request::ResendAll]);
        }
        let end = run_with_patience(&mut session);
        let closed = session.close();
        let stats = closed.stats;
        let timeline_ops = finish_timeline(&exporter, &log);
        // Under the capturing dispatcher: spans still entered are exited, spans closed.
        drop(closed.receiver);
        (end, stats, timeline_ops)
    });
    drop(gdb);
    let code = match end {
        RunEnd::Exited(code) => code,
        RunEnd::Stopped => panic!(
            "the firmware did not exit within {PATIENCE:?} ({})",
            context(&qemu)
        ),
        RunEnd::Gone(error) => panic!("the link to QEMU was lost: {error} ({})", context(&qemu)),
    };
    let qemu_code = qemu
        .wait(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("QEMU did not end: {e} ({})", context(&qemu)));
    // QEMU has ended: this only reads the rest of its output.
    qemu.kill()
        .unwrap_or_else(|e| panic!("reaping QEMU: {e} ({})", context(&qemu)));
    assert_eq!(
        code,
        qemu_code,
        "the exit code the link reported is not QEMU's ({})",
        context(&qemu)
    );
    eprintln!(
        "{} on {}: {:.2?} in QEMU; {}",
        scenario.name(),
        board.machine,
        started.elapsed(),
        stats
    );
    Run {
        scenario,
        ops: log.entries(),
        stats,
        exit_code: Some(code),
        capture: recorded.take(),
        qemu_output: format!("{}{}", qemu.stdout(), qemu.stderr()),
        timeline: timeline.take(),
        timeline_ops,
    }
}

/// Finishes the timeline (before the receiver is dropped, as host-receiver does); returns
/// how many operations the capturing layer saw until then.
fn finish_timeline(exporter: &TimelineHandle, log: &Log) -> usize {
    let ops = log.ops().len();
    exporter
        .finish()
        .unwrap_or_else(|e| panic!("the timeline into memory failed: {e}"));
    ops
}

/// [`Session::run`] with a stop flag set after [`PATIENCE`].
fn run_with_patience<M: rtt_tunnel_host::memory::TargetMemory>(session: &mut Session<M>) -> RunEnd {
    let stop = AtomicBool::new(false);
    let (done, finished) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(PATIENCE) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let options = RunOptions::default()
            .attach_timeout(Some(Duration::from_secs(20)))
            .final_drain(Duration::from_secs(1));
        let end = session
            .run(stop, &options)
            .unwrap_or_else(|e| panic!("the session failed: {e}"));
        drop(done);
        end
    })
}

/// The late host's first look: drains (and throws away) everything until the firmware says
/// it waits for a request, then lets go of the control block.
fn drain_until_waiting(
    gdb: &mut GdbMemory,
    rtt: &RttOptions,
    qemu: &Qemu,
    context: &dyn Fn(&Qemu) -> String,
) {
    let throwaway = Log::default();
    tracing_core::dispatcher::with_default(&throwaway.dispatch(), || {
        let mut session = Session::new(RttReader::new(&mut *gdb, rtt.clone()), Receiver::default());
        let start = Instant::now();
        while !throwaway.saw_message(LATE_ATTACH_WAITING) {
            assert!(
                start.elapsed() < PATIENCE,
                "late_attach never said it waits ({})",
                context(qemu)
            );
            session.poll().unwrap_or_else(|e| {
                panic!("polling before the late attach: {e} ({})", context(qemu))
            });
            std::thread::sleep(Duration::from_millis(1));
        }
        let closed = session.close();
        closed
            .restore
            .unwrap_or_else(|e| panic!("closing the first session: {e} ({})", context(qemu)));
        drop(closed.receiver);
    });
}

/// Replays a recorded capture through the splitter, the decoder and a [`Receiver`] (no QEMU)
/// under the capture layer ([`Log`]).
///
/// # Panics
///
/// When the capture cannot be read.
pub fn replay_capture(scenario: Scenario, capture: &[u8]) -> Run {
    let log = Log::default();
    let timeline = SharedBuffer::default();
    let (timeline_layer, exporter) = Timeline::new(timeline.clone()).build();
    let dispatch = log.dispatch_with(timeline_layer);
    let (stats, timeline_ops) = tracing_core::dispatcher::with_default(&dispatch, || {
        let mut reader = CaptureReader::new(capture).expect("a capture file");
        let mut receiver = Receiver::default();
        let stats = replay(&mut reader, &mut receiver).expect("the capture replays");
        let timeline_ops = finish_timeline(&exporter, &log);
        drop(receiver);
        (stats, timeline_ops)
    });
    Run {
        scenario,
        ops: log.entries(),
        stats,
        exit_code: None,
        capture: capture.to_vec(),
        qemu_output: String::new(),
        timeline: timeline.take(),
        timeline_ops,
    }
}

/// The spans a run created, in order, by name.
pub fn span_names(ops: &[Entry]) -> Vec<&str> {
    ops.iter()
        .filter_map(|entry| match &entry.op {
            Op::NewSpan { span, .. } => Some(span_name(span)),
            _ => None,
        })
        .collect()
}

/// What the snapshot files say about their text (insta's `description`).
pub const SNAPSHOT_DESCRIPTION: &str =
    "What the host's tracing saw when the scenario firmware ran in QEMU \
(the same on mps2-an385, mps2-an386 and mps2-an505; also what its recorded captures replay to). \
One line per operation. `b1`: stamped with a target time of boot 1 (times are checked, not \
printed); `#n name`: the n-th span created; values as recorded: `5_u64`, `-5_i64`, `1.5_f64`, \
`\"str\"`, `?Debug text` (`…`: cut by the target). The receiver's own DEBUG/INFO link events are \
left out. Re-record with `cargo xtask bless`.";

/// Asserts that every board's text is the same, and returns it.
///
/// # Panics
///
/// With the first board whose text differs, and both texts.
pub fn same_on_all_boards(scenario: Scenario, texts: &[(Board, String)]) -> String {
    let (first_board, first) = &texts[0];
    for (board, text) in &texts[1..] {
        assert!(
            text == first,
            "{}: {} and {} differ\n--- {}:\n{first}\n--- {}:\n{text}",
            scenario.name(),
            first_board.machine,
            board.machine,
            first_board.machine,
            board.machine,
        );
    }
    first.clone()
}

/// Compares `text` with the scenario's snapshot (`tests/snapshots/<scenario>.snap`).
pub fn assert_snapshot(scenario: Scenario, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(SNAPSHOT_DESCRIPTION);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(scenario.name(), text));
}
