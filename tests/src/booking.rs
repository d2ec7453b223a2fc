//! Harness for the booking service: `spawn_booking(Database)` starts the
//! real service on port 0 with a fresh database — a new SQLite file, or a
//! new PostgreSQL database named by a UUID on the server at
//! `SILTA_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! A PostgreSQL run never skips: without a server the test fails.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;
use silta_auth::{AccessTokenRequest, SigningKey, TokenIssuer, TokenVerifier};
use silta_booking::{BookingApp, BookingSettings, BookingState};
use silta_proto::v1::hub::RoomGrant;
use silta_proto::v1::{LanguageTag, Role, Subject};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A new SQLite file.
    Sqlite,
    /// A new database on the local PostgreSQL server.
    Postgres,
}

/// The `iss` of the test tokens.
pub const ISSUER: &str = "silta-test";

fn postgres_admin_url() -> String {
    std::env::var("SILTA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty database; returns its URL.
pub async fn fresh_database(database: Database) -> String {
    sqlx::any::install_default_drivers();
    match database {
        Database::Sqlite => {
            let path: PathBuf = std::env::temp_dir().join(format!("silta-test-{}.db", uuid::Uuid::new_v4().simple()));
            silta_booking::Store::sqlite_url(&path)
        }
        Database::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("silta_test_{}", uuid::Uuid::new_v4().simple());
            let mut connection = sqlx::AnyConnection::connect(&admin)
                .await
                .unwrap_or_else(|err| panic!("PostgreSQL at {admin} is required for this test: {err}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut connection)
                .await
                .expect("create the test database");
            let base = admin.rsplit_once('/').map(|(base, _)| base.to_owned()).unwrap_or(admin);
            format!("{base}/{name}")
        }
    }
}

/// A running booking service.
pub struct BookingTestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database URL (to restart on the same data).
    pub database_url: String,
    /// Issues tokens the service accepts.
    pub issuer: TokenIssuer,
    verifier: TokenVerifier,
    /// The service's state.
    pub state: BookingState,
    /// The settings it runs with.
    pub settings: BookingSettings,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the booking service on a fresh database.
pub async fn spawn_booking(database: Database) -> BookingTestApp {
    spawn_booking_with(database, |_| {}).await
}

/// Starts the booking service on a fresh database with adjusted settings.
pub async fn spawn_booking_with(database: Database, adjust: impl FnOnce(&mut BookingSettings)) -> BookingTestApp {
    let url = fresh_database(database).await;
    let key = SigningKey::generate("test-key").unwrap();
    let verifier = TokenVerifier::new(ISSUER, &[key.verification_key()]).unwrap();
    let issuer = TokenIssuer::new(key, ISSUER);
    let mut settings = BookingSettings { bind: "127.0.0.1:0".parse().unwrap(), ..BookingSettings::default() };
    settings.notifications.poll_interval_ms = 50;
    // Scenarios race hundreds of requests from one address and identity;
    // the limits have their own scenario.
    settings.request_limits.per_address_per_second = 100_000;
    settings.request_limits.per_address_burst = 100_000;
    settings.request_limits.per_identity_per_second = 100_000;
    settings.request_limits.per_identity_burst = 100_000;
    adjust(&mut settings);
    start(url, issuer, verifier, settings).await
}

async fn start(url: String, issuer: TokenIssuer, verifier: TokenVerifier, settings: BookingSettings) -> BookingTestApp {
    let app = BookingApp::build(settings.clone(), &url, verifier.clone()).await.expect("the booking service starts");
    let address: SocketAddr = app.local_addr().unwrap();
    let state = app.state();
    let server = tokio::spawn(app.run_until_stopped());
    BookingTestApp {
        base: format!("http://{address}"),
        database_url: url,
        issuer,
        verifier,
        state,
        settings,
        http: reqwest::Client::new(),
        server,
    }
}

/// A response: status and JSON body (or the text as a JSON string).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

impl Reply {
    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl BookingTestApp {
    /// Stops this instance and starts a new one on the same database, as a
    /// restart would.
    pub async fn restart(self) -> BookingTestApp {
        self.state.shut_down();
        let _ = self.server.await;
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        start(self.database_url, self.issuer, self.verifier, settings).await
    }

    /// Starts a second booking process on the same database (as a cluster
    /// runs several), accepting the same tokens. This one keeps running.
    pub async fn another_process(&self) -> BookingTestApp {
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        start(self.database_url.clone(), self.issuer.clone(), self.verifier.clone(), settings).await
    }

    /// A token for a role.
    pub fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> String {
        let request = AccessTokenRequest {
            subject: Subject::parse(subject).unwrap(),
            role,
            organisation: organisation.into(),
            languages: languages.iter().map(|tag| LanguageTag::parse(*tag).unwrap()).collect(),
            rooms: Vec::new(),
            lifetime_seconds: 600,
        };
        self.issuer.issue_access(&request).unwrap()
    }

    /// A token scoped to one room.
    pub fn scoped_token(&self, subject: &str, role: Role, organisation: &str, grant: RoomGrant) -> String {
        let request = AccessTokenRequest {
            subject: Subject::parse(subject).unwrap(),
            role,
            organisation: organisation.into(),
            languages: vec![LanguageTag::parse("fi").unwrap()],
            rooms: vec![grant],
            lifetime_seconds: 600,
        };
        self.issuer.issue_access(&request).unwrap()
    }

    /// An admin token.
    pub fn admin(&self) -> String {
        self.token("admin-1", Role::Admin, "silta", &["fi"])
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::reply(request.send().await.expect("the request is sent")).await
    }

    /// POST JSON with a token and optional extra headers.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::reply(request.send().await.expect("the request is sent")).await
    }

    /// POST as admin, expecting success.
    pub async fn admin_post(&self, path: &str, body: Value) {
        let reply = self.post(path, Some(&self.admin()), body, &[]).await;
        assert!(reply.status < 300, "POST {path} failed: {reply:?}");
    }
}

/// A minimal SMTP server that accepts every message and hands its data to
/// the test.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Received messages (the DATA section).
    pub messages: mpsc::UnboundedReceiver<String>,
}

impl SmtpSink {
    /// Starts listening.
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(buffer) = data.as_mut() {
                            if line == "." {
                                let _ = sender.send(std::mem::take(buffer));
                                data = None;
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                buffer.push_str(&line);
                                buffer.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(answer).await;
                    }
                });
            }
        });
        SmtpSink { port, messages }
    }
}
