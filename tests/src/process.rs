//! Real `silta` processes for multi-process tests: the binary that
//! `cargo build -p silta` made, started with only the settings a test gives.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use silta_auth::{AccessTokenRequest, SigningKey, TokenIssuer};
use silta_proto::v1::{LanguageTag, Role, Subject};

use crate::signal::SignalEndpoint;

/// The `silta` binary next to the running test's target directory.
pub fn silta_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let binary = test.parent().and_then(|deps| deps.parent()).expect("the target directory").join("silta");
    assert!(binary.exists(), "{} is built first (cargo build -p silta; tests/run does)", binary.display());
    binary
}

/// A `silta` process with a clean environment plus `settings`; killed when
/// dropped.
pub struct SiltaProcess {
    child: Child,
}

impl SiltaProcess {
    /// Starts `silta <command>` with the environment variables `settings`.
    pub fn start(command: &str, settings: &[(&str, &str)]) -> Self {
        Self::start_with_args(&[command], settings)
    }

    /// Starts `silta <args…>` with the environment variables `settings`.
    pub fn start_with_args(args: &[&str], settings: &[(&str, &str)]) -> Self {
        Self::spawn(args, settings, Stdio::inherit())
    }

    /// As [`start_with_args`](Self::start_with_args), its log (stderr)
    /// written to `log`.
    pub fn start_logged(args: &[&str], settings: &[(&str, &str)], log: &std::path::Path) -> Self {
        // Appended to, so a restarted process's earlier lines stay.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|err| panic!("{} is opened: {err}", log.display()));
        Self::spawn(args, settings, Stdio::from(file))
    }

    fn spawn(args: &[&str], settings: &[(&str, &str)], stderr: Stdio) -> Self {
        let command = args.first().copied().unwrap_or_default();
        let mut process = Command::new(silta_binary());
        process
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SILTA_LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .stderr(stderr);
        for (name, value) in settings {
            process.env(name, value);
        }
        Self { child: process.spawn().unwrap_or_else(|err| panic!("silta {command} starts: {err}")) }
    }

    /// SIGTERM, as an operator or Kubernetes stops a process.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends a signal by name (`STOP` freezes the process as a starved
    /// machine would, `CONT` lets it go on).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "SIG{name} was delivered");
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no goodbye, no draining.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SiltaProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `silta booking` process of a cluster (demo directory loaded), on its
/// own database, signing-key file and free port.
pub struct BookingProcess {
    /// The process.
    pub process: SiltaProcess,
    /// Where it listens.
    pub address: SocketAddr,
    key_file: PathBuf,
    settings: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl BookingProcess {
    /// Starts one and waits until it listens.
    pub fn start(nats_url: &str, key: &SigningKey, database_url: &str) -> Self {
        Self::start_logged(nats_url, key, database_url, &[], None)
    }

    /// As [`start`](Self::start) with `extra` settings, its log written to
    /// `log` when given.
    pub fn start_logged(
        nats_url: &str,
        key: &SigningKey,
        database_url: &str,
        extra: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Self {
        let key_file = std::env::temp_dir().join(format!("silta-booking-key-{}.pem", uuid::Uuid::new_v4().simple()));
        std::fs::write(&key_file, key.to_pkcs8_pem()).expect("the key file is written");
        let address = crate::free_address();
        let settings = vec![
            ("SILTA_CLUSTER__NATS_URL".to_owned(), nats_url.to_owned()),
            ("SILTA_BOOKING__BIND".to_owned(), address.to_string()),
            ("SILTA_BOOKING__DATABASE_URL".to_owned(), database_url.to_owned()),
            ("SILTA_AUTH__SIGNING_KEY_FILE".to_owned(), key_file.display().to_string()),
            ("SILTA_AUTH__SIGNING_KEY_ID".to_owned(), key.kid().to_owned()),
        ];
        let mut settings = settings;
        settings.extend(extra.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
        let log = log.map(std::path::Path::to_path_buf);
        let process = Self::spawn(&settings, address, log.as_deref());
        Self { process, address, key_file, settings, log }
    }

    fn spawn(settings: &[(String, String)], address: SocketAddr, log: Option<&std::path::Path>) -> SiltaProcess {
        let pairs: Vec<(&str, &str)> = settings.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let args = ["booking", "--seed-demo"];
        let process = match log {
            Some(log) => SiltaProcess::start_logged(&args, &pairs, log),
            None => SiltaProcess::start_with_args(&args, &pairs),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "silta booking did not listen on {address} within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// Kills it (an outage); [`Self::restart`] brings it back.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again (after [`SiltaProcess::kill`]) with the same settings.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Self::spawn(&self.settings, self.address, self.log.as_deref());
    }

    /// The base URL of its API.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The start (`starts_at`) of the first free slot of the demo
    /// directory's Vero tax-card service at Kemi in the next two weeks.
    pub async fn first_free_vero_slot(&self, http: &reqwest::Client, token: &str) -> serde_json::Value {
        let from = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
        let to = from + chrono::Duration::days(14);
        let slots: serde_json::Value = http
            .get(self.url(&format!(
                "/api/v1/slots?agency=VERO&service=vero-tax-card&service_point=sp-kemi&language=fi&from={from}&to={to}"
            )))
            .bearer_auth(token)
            .send()
            .await
            .expect("slots")
            .json()
            .await
            .expect("a slot list");
        let slot = slots.as_array().and_then(|slots| slots.first()).expect("a free slot in the demo directory");
        slot["starts_at"].clone()
    }
}

impl Drop for BookingProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.key_file);
    }
}

/// A `silta signal` process driving the media nodes of a NATS cluster, with
/// a signing key of its own so the test can issue the tokens it accepts.
pub struct SignalProcess {
    /// The process.
    pub process: SiltaProcess,
    /// Where it listens.
    pub address: SocketAddr,
    issuer: TokenIssuer,
    key_file: PathBuf,
}

impl SignalProcess {
    /// Starts one on a free loopback port and waits until it listens.
    pub fn start(nats_url: &str) -> Self {
        Self::start_with(nats_url, &SigningKey::generate("test").expect("a signing key"), &[])
    }

    /// As [`start`](Self::start), signing with `key` (several signal nodes
    /// of one cluster share it) and with `extra` settings.
    pub fn start_with(nats_url: &str, key: &SigningKey, extra: &[(&str, &str)]) -> Self {
        Self::launch(nats_url, key, extra, None)
    }

    /// As [`start_with`](Self::start_with), its log written to `log`.
    pub fn start_logged(nats_url: &str, key: &SigningKey, extra: &[(&str, &str)], log: &std::path::Path) -> Self {
        Self::launch(nats_url, key, extra, Some(log))
    }

    fn launch(nats_url: &str, key: &SigningKey, extra: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let key_file = std::env::temp_dir().join(format!("silta-signal-key-{}.pem", uuid::Uuid::new_v4().simple()));
        std::fs::write(&key_file, key.to_pkcs8_pem()).expect("the key file is written");
        let address = crate::free_address();
        let bind = address.to_string();
        let key_path = key_file.display().to_string();
        let mut settings = vec![
            ("SILTA_CLUSTER__NATS_URL", nats_url),
            ("SILTA_SIGNAL__BIND", bind.as_str()),
            ("SILTA_AUTH__SIGNING_KEY_FILE", key_path.as_str()),
            ("SILTA_AUTH__SIGNING_KEY_ID", key.kid()),
        ];
        settings.extend_from_slice(extra);
        let process = match log {
            Some(log) => SiltaProcess::start_logged(&["signal"], &settings, log),
            None => SiltaProcess::start("signal", &settings),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "silta signal did not listen on {address} within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { process, address, issuer: TokenIssuer::new(key.clone(), "silta"), key_file }
    }

    /// Stops it as an operator would (SIGTERM) and waits for it to exit.
    pub async fn shut_down(mut self) {
        self.process.terminate();
        let status = self.process.exited_within(Duration::from_secs(10)).await;
        assert!(status.is_some_and(|status| status.success()), "silta signal exits cleanly: {status:?}");
    }
}

impl Drop for SignalProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.key_file);
    }
}

impl SignalEndpoint for SignalProcess {
    fn ws_url(&self) -> String {
        format!("ws://{}/v1/signal", self.address)
    }

    fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> String {
        let request = AccessTokenRequest {
            subject: Subject::parse(subject).expect("a valid subject"),
            role,
            organisation: organisation.into(),
            languages: languages.iter().map(|tag| LanguageTag::parse(*tag).expect("a language tag")).collect(),
            rooms: Vec::new(),
            lifetime_seconds: 600,
        };
        self.issuer.issue_access(&request).expect("a token is issued")
    }
}

impl SiltaProcess {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The local TCP port of this process's connection to `server_port` on
    /// loopback (e.g. its NATS connection), read from `ss`.
    pub fn tcp_port_to(&self, server_port: u16) -> Option<u16> {
        let output = Command::new("ss").args(["-tnpH"]).output().expect("ss runs");
        let pid = format!("pid={},", self.id());
        String::from_utf8_lossy(&output.stdout).lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, peer) = (fields.get(3)?, fields.get(4)?);
            (line.contains(&pid) && peer.rsplit(':').next()? == server_port.to_string())
                .then(|| local.rsplit(':').next()?.parse().ok())?
        })
    }
}

/// Every loopback packet from or to some TCP ports vanishes, as on a link
/// that went silent: nothing is closed or refused. `tc` on `lo` of the
/// test's network namespace classifies them into an HTB class of 8 bit/s
/// with a one-packet queue (the kernel here has no drop action). Lifted
/// when dropped.
pub struct Blackhole;

impl Blackhole {
    /// Starts dropping the ports' packets.
    pub fn tcp(ports: &[u16]) -> Self {
        tc(&["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"]);
        tc(&["class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"]);
        tc(&["class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "8bit", "ceil", "8bit"]);
        tc(&["qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "1"]);
        for port in ports {
            let port = port.to_string();
            for direction in ["sport", "dport"] {
                tc(&[
                    "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
                    "protocol", "6", "0xff", "match", "ip", direction, &port, "0xffff", "flowid", "1:20",
                ]);
            }
        }
        Self
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        let _ = Command::new("tc").args(["qdisc", "del", "dev", "lo", "root"]).status();
    }
}

fn tc(args: &[&str]) {
    let output = Command::new("tc").args(args).output().expect("tc runs");
    assert!(output.status.success(), "tc {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}
