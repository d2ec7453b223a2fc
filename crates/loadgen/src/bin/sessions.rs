//! `silta-sessions`: holds many authenticated signaling sessions open
//! against a running signal node (`silta dev` or `silta signal`) and
//! reports what each costs the server: resident memory per session and CPU
//! time per message.
//!
//! ```sh
//! silta-sessions --sessions 10000 --server-pid $(pgrep -f 'silta dev')
//! ```
//!
//! A process here may hold about 20,000 open files, so the sessions are
//! split over child processes (`--per-process`, 5,000 by default), each a
//! copy of this program. The report: the server's resident memory before,
//! with every session open (and the difference per session), the CPU time
//! the server spent answering `--pings` heartbeats from every session (per
//! message), and its memory once the sessions closed and their resume
//! window passed. Only loopback or namespaces you made are valid targets.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use silta_loadgen::minter::{KeyArgs, Minter};
use silta_proto::v1::Role;
use tokio::sync::{Notify, Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Debug, Parser)]
#[command(
    name = "silta-sessions",
    about = "Many signaling sessions held open: the server's memory and CPU per session"
)]
struct Args {
    /// The signaling WebSocket (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:7100/v1/signal")]
    signal: String,
    #[command(flatten)]
    key: KeyArgs,
    /// Sessions to hold open (authenticated experts of one agency).
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Sessions per child process (each holds one socket per session).
    #[arg(long, default_value_t = 5000)]
    per_process: usize,
    /// Heartbeats (`ping`, answered by `ack`) each session sends for the
    /// CPU measurement.
    #[arg(long, default_value_t = 5)]
    pings: usize,
    /// The server's process id (its memory and CPU time are read from
    /// /proc).
    #[arg(long)]
    server_pid: u32,
    /// Seconds to wait after the sessions close before the last memory
    /// reading (the server keeps a dropped session for its resume window,
    /// 30 s by default).
    #[arg(long, default_value_t = 35)]
    settle_seconds: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Internal: run as a child holding sessions `first..first + sessions`.
    #[arg(long, hide = true)]
    child_first: Option<usize>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = match args.child_first {
        Some(first) => child(&args, first).await,
        None => parent(&args).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("silta-sessions: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The server's resident memory (KiB) and CPU time (user + system, in
/// clock ticks) from /proc.
fn server_usage(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status (is --server-pid right?)"))?;
    let rss = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/<pid>/status")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: fields count from after its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else { bail!("unreadable /proc/{pid}/stat") };
    Ok((rss, utime + stime))
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// One child process and the lines it writes.
struct Worker {
    process: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(args: &Args, first: usize, sessions: usize) -> anyhow::Result<Self> {
        let mut process = Command::new(std::env::current_exe()?)
            .args(["--signal", &args.signal])
            .args(args.key.to_args())
            .args(["--sessions", &sessions.to_string(), "--server-pid", &args.server_pid.to_string()])
            .args(["--pings", &args.pings.to_string(), "--child-first", &first.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start a child process")?;
        let stdout = process.stdout.take().context("no stdout")?;
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { process, lines })
    }

    /// Waits for the child's line starting with `word`.
    fn expect(&self, word: &str, within: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(word) => return Ok(line),
                Ok(line) if line.starts_with("failed") => bail!("a child process {line}"),
                Ok(_) => {}
                Err(_) => bail!("a child process did not say `{word}` within {within:?}"),
            }
        }
    }

    fn tell(&mut self, word: &str) -> anyhow::Result<()> {
        let stdin = self.process.stdin.as_mut().context("no stdin")?;
        writeln!(stdin, "{word}")?;
        stdin.flush()?;
        Ok(())
    }
}

impl Drop for Worker {
    /// A child does not outlive the run, even one that failed half-way.
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn parent(args: &Args) -> anyhow::Result<()> {
    if !args.signal.starts_with("ws://127.")
        && !args.signal.starts_with("ws://[::1]")
        && !args.signal.starts_with("ws://localhost")
    {
        bail!("--signal must be a loopback address: load tests stay on this machine");
    }
    if args.sessions == 0 || args.per_process == 0 {
        bail!("--sessions and --per-process must be at least 1");
    }
    let (rss_before, _) = server_usage(args.server_pid)?;
    let started = Instant::now();
    let mut workers = Vec::new();
    let mut first = 0;
    while first < args.sessions {
        let count = args.per_process.min(args.sessions - first);
        workers.push(Worker::spawn(args, first, count)?);
        first += count;
    }
    eprintln!("opening {} sessions in {} process(es) …", args.sessions, workers.len());
    let mut opened = 0;
    for worker in &workers {
        let line = worker.expect("open", Duration::from_secs(600))?;
        opened += line.split_whitespace().nth(1).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
        eprintln!("  {opened} open");
    }
    let open_seconds = started.elapsed().as_secs_f64();
    // Let the server settle (allocator, hub) before reading its memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_open, cpu_before) = server_usage(args.server_pid)?;

    eprintln!("each session sends {} heartbeat(s) …", args.pings);
    for worker in &mut workers {
        worker.tell("ping")?;
    }
    let mut acked = 0;
    for worker in &workers {
        let line = worker.expect("acked", Duration::from_secs(600))?;
        acked += line.split_whitespace().nth(1).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    }
    let (_, cpu_after) = server_usage(args.server_pid)?;

    eprintln!("closing; waiting {} s for the resume window …", args.settle_seconds);
    for worker in &mut workers {
        drop(worker.process.stdin.take());
    }
    for worker in &mut workers {
        let _ = worker.process.wait();
    }
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let (rss_closed, _) = server_usage(args.server_pid)?;

    let per_session_bytes = (rss_open.saturating_sub(rss_before) * 1024) as f64 / opened.max(1) as f64;
    let cpu_seconds = (cpu_after.saturating_sub(cpu_before)) as f64 / TICKS_PER_SECOND;
    let cpu_us_per_message = cpu_seconds * 1e6 / acked.max(1) as f64;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "sessions": opened, "processes": workers.len(), "open_seconds": open_seconds,
                "rss_before_kib": rss_before, "rss_open_kib": rss_open, "rss_closed_kib": rss_closed,
                "bytes_per_session": per_session_bytes.round(), "messages": acked,
                "server_cpu_seconds": cpu_seconds, "cpu_us_per_message": cpu_us_per_message,
            })
        );
    } else {
        println!("sessions open        {opened} (in {open_seconds:.1} s, {} process(es))", workers.len());
        println!("server memory        {rss_before} KiB before, {rss_open} KiB open, {rss_closed} KiB after closing");
        println!("per session          {:.1} KiB", per_session_bytes / 1024.0);
        println!("heartbeats answered  {acked}");
        println!("server CPU           {cpu_seconds:.2} s, {cpu_us_per_message:.1} µs per message (10 ms ticks)");
    }
    if opened < args.sessions {
        bail!("only {opened} of {} sessions opened", args.sessions);
    }
    Ok(())
}

/// What a child's sessions are told to do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Hold,
    Ping,
}

async fn child(args: &Args, first: usize) -> anyhow::Result<()> {
    let minter = Minter::load(&args.key)?;
    let (phase, _) = watch::channel(Phase::Hold);
    let phase = Arc::new(phase);
    let opened = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Notify::new());
    // Connect a few hundred at a time, as clients arriving would.
    let gate = Arc::new(Semaphore::new(200));
    let mut tasks = Vec::new();
    for index in first..first + args.sessions {
        let token = minter.token(&format!("bench-expert-{index}"), Role::Expert, "VERO", &["fi"])?;
        let session = Session {
            url: args.signal.clone(),
            token,
            pings: args.pings,
            phase: phase.subscribe(),
            opened: opened.clone(),
            acked: acked.clone(),
            progress: progress.clone(),
        };
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move { session.run(gate).await }));
    }
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    for (index, task) in tasks.into_iter().enumerate() {
        let failures = failures.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            if let Ok(Err(err)) = task.await {
                failures.lock().map(|mut list| list.push(format!("session {index}: {err:#}"))).ok();
                progress.notify_one();
            }
        });
    }
    let wait_for = |counter: &Arc<AtomicUsize>, target: usize| {
        let (counter, progress, failures) = (counter.clone(), progress.clone(), failures.clone());
        async move {
            loop {
                let notified = progress.notified();
                if let Some(first) = failures.lock().ok().and_then(|list| list.first().cloned()) {
                    bail!(first);
                }
                if counter.load(Ordering::Acquire) >= target {
                    return Ok(());
                }
                notified.await;
            }
        }
    };
    // The parent's commands, one per line on stdin (read on a thread of
    // its own: std's blocking stdin).
    let (commands, mut stdin) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if commands.send(line).is_err() {
                break;
            }
        }
    });
    if let Err(err) = wait_for(&opened, args.sessions).await {
        println!("failed {err:#}");
        return Err(err);
    }
    println!("open {}", args.sessions);
    while let Some(line) = stdin.recv().await {
        if line.trim() == "ping" {
            phase.send_replace(Phase::Ping);
            if let Err(err) = wait_for(&acked, args.sessions * args.pings).await {
                println!("failed {err:#}");
                return Err(err);
            }
            println!("acked {}", acked.load(Ordering::Acquire));
        }
    }
    // Stdin closed: the parent is done; the sockets close with the process.
    Ok(())
}

/// One held session.
struct Session {
    url: String,
    token: String,
    pings: usize,
    phase: watch::Receiver<Phase>,
    opened: Arc<AtomicUsize>,
    acked: Arc<AtomicUsize>,
    progress: Arc<Notify>,
}

impl Session {
    async fn run(mut self, gate: Arc<Semaphore>) -> anyhow::Result<()> {
        // Small client buffers: the client side holds thousands too.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let permit = gate.acquire_owned().await?;
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(self.url.as_str(), Some(config), false)
            .await
            .context("connecting")?;
        let auth = serde_json::json!({"type": "auth", "id": "a", "token": self.token}).to_string();
        socket.send(Message::text(auth)).await?;
        loop {
            let message = socket.next().await.context("closed before the welcome")??;
            if let Message::Text(text) = message {
                let reply: serde_json::Value = serde_json::from_str(text.as_str())?;
                match reply["type"].as_str() {
                    Some("welcome") => break,
                    Some("error") => bail!("refused: {}", reply["code"]),
                    _ => {}
                }
            }
        }
        drop(permit);
        self.opened.fetch_add(1, Ordering::AcqRel);
        self.progress.notify_one();
        let mut sent = 0;
        loop {
            tokio::select! {
                message = socket.next() => {
                    match message {
                        // Reading also answers the server's pings.
                        Some(Ok(Message::Text(text))) if is_ack(text.as_str()) => {
                            self.acked.fetch_add(1, Ordering::AcqRel);
                            self.progress.notify_one();
                            if sent < self.pings {
                                sent += 1;
                                socket.send(Message::text(ping(sent))).await?;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(err)) => bail!("the connection broke: {err}"),
                        None => bail!("the server closed the connection"),
                    }
                }
                changed = self.phase.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if *self.phase.borrow_and_update() == Phase::Ping && sent == 0 && self.pings > 0 {
                        sent = 1;
                        socket.send(Message::text(ping(sent))).await?;
                    }
                }
            }
        }
    }
}

/// Whether a server message is the `ack` of one of this tool's pings.
fn is_ack(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|reply| reply["type"] == "ack" && reply["id"].as_str().is_some_and(|id| id.starts_with('p')))
}

fn ping(n: usize) -> String {
    serde_json::json!({"type": "ping", "id": format!("p{n}")}).to_string()
}
