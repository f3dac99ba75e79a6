//! `cargo xtask viewer`: the demo's timeline in a real trace viewer.
//!
//! 1. Installs what is missing: the thumb targets, `qemu-system-arm` and `chromium` (Debian's
//!    packages, `--no-install-recommends`), and speedscope (npm's `speedscope`, pinned) into
//!    `target/viewer/npm/`.
//! 2. Runs the demo firmware in QEMU under `host-receiver --timeline target/viewer/demo.json
//!    --record target/viewer/demo.rttcap`, then `host-receiver replay` of that recording with
//!    `--timeline target/viewer/replay.json`: the two timelines must be the same, byte for
//!    byte.
//! 3. Checks the demo's timeline: the sensor loop's spans nested on the thread-mode track
//!    (`sensor_loop` > `round` > `sample` > `bus_read`), the SysTick handler's `systick`
//!    slices on a track of their own, `SysTick`.
//! 4. Serves speedscope and the timeline on a loopback port and loads it in headless
//!    Chromium: the page it shows must list the two tracks as speedscope's profiles (not
//!    speedscope's welcome page or an import error), and its screenshot (the thread-mode
//!    track, which speedscope shows first) is written to `target/viewer/demo-timeline.png`
//!    (the README's picture comes from it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::demo::{build_firmware, build_host_receiver, host_target_dir, MACHINE};
use crate::install;
use crate::run::{root, run as sh};

/// The speedscope release the check runs (npm's `speedscope`).
const SPEEDSCOPE: &str = "speedscope@1.25.0";

/// What speedscope names the thread-mode track's profile.
const THREAD_PROFILE: &str = "target (pid 1), thread mode (tid 0)";
/// What speedscope names the SysTick handler's track's profile.
const SYSTICK_PROFILE: &str = "target (pid 1), SysTick (tid 15)";

pub fn run() -> Result<()> {
    install::rust_tools()?;
    install::qemu()?;
    install::chromium()?;
    let out = host_target_dir().join("viewer");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let speedscope = install_speedscope(&out)?;

    let firmware = build_firmware()?;
    let host_receiver = build_host_receiver()?;
    let live = out.join("demo.json");
    let replayed = out.join("replay.json");
    let recording = out.join("demo.rttcap");
    host_receiver_run(
        &host_receiver,
        &[
            "--qemu".as_ref(),
            firmware.as_os_str(),
            "--machine".as_ref(),
            MACHINE.as_ref(),
            "--color".as_ref(),
            "never".as_ref(),
            "--timeline".as_ref(),
            live.as_os_str(),
            "--record".as_ref(),
            recording.as_os_str(),
        ],
    )?;
    host_receiver_run(
        &host_receiver,
        &[
            "replay".as_ref(),
            recording.as_os_str(),
            "--color".as_ref(),
            "never".as_ref(),
            "--timeline".as_ref(),
            replayed.as_os_str(),
        ],
    )?;
    let trace = std::fs::read(&live).with_context(|| format!("reading {}", live.display()))?;
    let again =
        std::fs::read(&replayed).with_context(|| format!("reading {}", replayed.display()))?;
    ensure!(
        trace == again,
        "the replay's timeline ({}) differs from the live run's ({})",
        replayed.display(),
        live.display()
    );
    eprintln!("xtask viewer: the replay's timeline is the live run's, byte for byte");
    check_demo_timeline(&trace)?;

    let server = serve(speedscope, live.clone())?;
    let page = format!(
        "http://127.0.0.1:{server}/index.html#profileURL=http%3A%2F%2F127.0.0.1%3A{server}%2Fdemo.json"
    );
    let dom = chromium(&out, &["--dump-dom", &page])?;
    let dom = String::from_utf8_lossy(&dom.stdout);
    ensure!(
        dom.contains("<title>demo.json - speedscope</title>")
            && dom.contains(THREAD_PROFILE)
            && dom.contains(SYSTICK_PROFILE)
            && dom.contains("(1/2)"),
        "speedscope did not show the timeline's two tracks ({THREAD_PROFILE:?}, \
         {SYSTICK_PROFILE:?}); the page was:\n{dom}"
    );
    let screenshot = out.join("demo-timeline.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = format!("--screenshot={}", screenshot.display());
    chromium(&out, &[&shot, "--window-size=1600,400", &page])?;
    let png = std::fs::read(&screenshot)
        .with_context(|| format!("chromium wrote no screenshot {}", screenshot.display()))?;
    ensure!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "the screenshot {} is not a picture of a drawn timeline ({} bytes)",
        screenshot.display(),
        png.len()
    );
    eprintln!(
        "xtask viewer: speedscope in headless Chromium loaded {} as {THREAD_PROFILE:?} and \
         {SYSTICK_PROFILE:?}; screenshot: {}",
        live.display(),
        screenshot.display()
    );
    Ok(())
}

/// speedscope's release folder, installed with npm into `out/npm` if it is not there.
fn install_speedscope(out: &Path) -> Result<PathBuf> {
    let prefix = out.join("npm");
    let release = prefix.join("node_modules/speedscope/dist/release");
    if !release.join("index.html").is_file() {
        install::npm()?;
        let prefix = prefix.to_str().context("target/ is not UTF-8")?;
        sh(
            "npm",
            &[
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                prefix,
                SPEEDSCOPE,
            ],
        )?;
    }
    ensure!(
        release.join("index.html").is_file(),
        "npm installed {SPEEDSCOPE}, but {} has no index.html",
        release.display()
    );
    Ok(release)
}

/// Runs host-receiver with `args` (standard output to nothing); fails unless it exits 0.
fn host_receiver_run(program: &Path, args: &[&std::ffi::OsStr]) -> Result<()> {
    eprintln!(
        "\n$ {} {} > /dev/null",
        program.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("could not start {}", program.display()))?;
    ensure!(status.success(), "host-receiver failed ({status})");
    Ok(())
}

/// The demo's timeline: slices nest on every track (a name stack per track); on the
/// thread-mode track the sensor loop's spans nest four deep; the heartbeat's `systick` slices
/// are on the SysTick track, at its top level, and nowhere else.
fn check_demo_timeline(trace: &[u8]) -> Result<()> {
    let events: Vec<Value> = serde_json::from_slice(trace).context("the timeline is not JSON")?;
    let mut tracks: BTreeMap<u64, String> = BTreeMap::new();
    let mut stacks: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut paths = BTreeSet::new();
    for event in &events {
        let name = event["name"].as_str().unwrap_or_default().to_owned();
        let tid = event["tid"].as_u64().context("an event without a tid")?;
        let stack = stacks.entry(tid).or_default();
        match event["ph"].as_str() {
            Some("M") if name == "thread_name" => {
                let track = event["args"]["name"].as_str().unwrap_or_default();
                tracks.insert(tid, track.to_owned());
            }
            Some("B") => {
                stack.push(name);
                let track = tracks.get(&tid).context("a slice on an unnamed track")?;
                paths.insert(format!("{track}: {}", stack.join(" > ")));
            }
            Some("E") => match stack.pop() {
                Some(open) if open == name => {}
                open => bail!("{name:?} ends while {open:?} is open"),
            },
            _ => {}
        }
    }
    ensure!(
        stacks.values().all(Vec::is_empty),
        "slices never end: {stacks:?}"
    );
    for path in [
        "thread mode: sensor_loop > round > sample > bus_read",
        "thread mode: sensor_loop > round > filter",
        "SysTick: systick",
    ] {
        ensure!(
            paths.contains(path),
            "no {path:?} in the timeline; its nestings: {paths:?}"
        );
    }
    let systick: Vec<_> = paths.iter().filter(|p| p.contains("systick")).collect();
    ensure!(
        systick == ["SysTick: systick"],
        "systick slices off the SysTick track's top level: {systick:?}"
    );
    Ok(())
}

/// Headless Chromium on `args`, with a fresh profile under `out`.
fn chromium(out: &Path, args: &[&str]) -> Result<std::process::Output> {
    let profile = out.join("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    let user_data = format!("--user-data-dir={}", profile.display());
    let mut all = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        &user_data,
    ];
    all.extend(args);
    eprintln!("\n$ chromium {}", all.join(" "));
    let output = Command::new("chromium")
        .args(&all)
        .stdin(Stdio::null())
        .output()
        .context("could not start chromium")?;
    ensure!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output)
}

/// Serves `dir` and, as `/demo.json`, `trace` on a loopback port (for as long as this process
/// runs); returns the port.
fn serve(dir: PathBuf, trace: PathBuf) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A request that fails only fails the page, which the check then reports.
            let _ = respond(stream, &dir, &trace);
        }
    });
    Ok(port)
}

fn respond(mut stream: TcpStream, dir: &Path, trace: &Path) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let file = match path {
        "/demo.json" => Some(trace.to_path_buf()),
        "/" => Some(dir.join("index.html")),
        p if !p.contains("..") => Some(dir.join(p.trim_start_matches('/'))),
        _ => None,
    };
    match file.and_then(|f| std::fs::read(&f).ok().map(|body| (f, body))) {
        Some((file, body)) => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("json") => "application/json",
                Some("wasm") => "application/wasm",
                Some("png") => "image/png",
                Some("woff2") => "font/woff2",
                _ => "application/octet-stream",
            };
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)
        }
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}
