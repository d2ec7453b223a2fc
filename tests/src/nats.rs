//! A private NATS server with JetStream for one test: its own free port and
//! store directory, stopped (and the directory removed) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the server.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// A running private nats-server.
pub struct NatsServer {
    /// Its client URL.
    pub url: String,
    port: u16,
    child: Child,
    store: PathBuf,
}

impl NatsServer {
    /// Starts one on a free loopback port and waits until it takes
    /// connections.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let store = std::env::temp_dir().join(format!("silta-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&store).expect("a store directory");
        let child = spawn(port, &store);
        Self { url: format!("nats://127.0.0.1:{port}"), port, child, store }
    }

    /// Its client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (an outage); its store stays for [`Self::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn(self.port, &self.store);
    }
}

fn spawn(port: u16, store: &PathBuf) -> Child {
    let child = Command::new(NATS_SERVER)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("{NATS_SERVER} starts (apt-get install nats-server): {err}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen on {port} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
