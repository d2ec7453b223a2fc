//! A private NATS server with JetStream for one test: its own free port and
//! store directory, stopped (and the directory removed) when dropped; or a
//! private cluster of them (`NatsCluster`), as a deployment runs three.

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
        let port = crate::free_address().port();
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

/// A private cluster of nats-servers with JetStream for one test: each its
/// own client, route and monitoring port and store directory, routed to
/// the others (a JetStream cluster, as `deploy/kubernetes` runs three).
pub struct NatsCluster {
    servers: Vec<ClusterMember>,
    name: String,
}

struct ClusterMember {
    name: String,
    client: u16,
    route: u16,
    monitor: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsCluster {
    /// Starts `size` servers and waits until JetStream answers on each.
    pub fn start(size: usize) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let servers: Vec<ClusterMember> = (0..size)
            .map(|index| {
                let store = std::env::temp_dir().join(format!("silta-nats-{id}-{index}"));
                std::fs::create_dir_all(&store).expect("a store directory");
                ClusterMember {
                    name: format!("n{index}"),
                    client: crate::free_address().port(),
                    route: crate::free_address().port(),
                    monitor: crate::free_address().port(),
                    store,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self { servers, name: format!("silta-{}", &id[..8]) };
        for index in 0..size {
            cluster.spawn(index);
        }
        for index in 0..size {
            cluster.wait_healthy(index, Duration::from_secs(30));
        }
        cluster
    }

    fn spawn(&mut self, index: usize) {
        let routes: Vec<String> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .map(|(_, member)| format!("nats://127.0.0.1:{}", member.route))
            .collect();
        let member = &self.servers[index];
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &member.client.to_string(), "-m", &member.monitor.to_string()])
            .args(["--name", &member.name, "--cluster_name", &self.name])
            .args(["--cluster", &format!("nats://127.0.0.1:{}", member.route), "--routes", &routes.join(",")])
            .arg("-sd")
            .arg(&member.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{NATS_SERVER} starts (apt-get install nats-server): {err}"));
        self.servers[index].child = Some(child);
    }

    /// Waits until the server's JetStream is up and current in the cluster.
    fn wait_healthy(&self, index: usize, limit: Duration) {
        let url = format!("127.0.0.1:{}", self.servers[index].monitor);
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(&url) {
                use std::io::{Read, Write};
                let request = format!("GET /healthz HTTP/1.0\r\nHost: {url}\r\n\r\n");
                let mut response = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut response).is_ok()
                    && response.starts_with("HTTP/1.0 200")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nats-server {} was not healthy within {limit:?}",
                self.servers[index].name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every server's client URL, comma-separated (`cluster.nats_url`).
    pub fn urls(&self) -> String {
        self.servers.iter().map(|member| format!("nats://127.0.0.1:{}", member.client)).collect::<Vec<_>>().join(",")
    }

    /// The monitoring URL of one server (`/jsz`, `/healthz`).
    pub fn monitor(&self, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.servers[index].monitor)
    }

    /// Kills one server (`kill -9`: a lost machine); its store stays.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.servers[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed server again with its store and waits until it is
    /// current.
    pub fn restart(&mut self, index: usize) {
        self.kill(index);
        self.spawn(index);
        self.wait_healthy(index, Duration::from_secs(30));
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for index in 0..self.servers.len() {
            self.kill(index);
            let _ = std::fs::remove_dir_all(&self.servers[index].store);
        }
    }
}
