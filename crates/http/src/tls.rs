//! HTTPS/WSS served directly from PEM files (rustls), for deployments
//! without a TLS-terminating proxy in front.
//!
//! The certificate and key are read at start (a bad file stops the process
//! with its path named) and read again when either file changes, so a
//! renewed certificate (cert-manager, certbot) is served without a restart.
//! Handshakes run apart from the accept loop: a slow or silent client
//! delays only itself.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the files are checked for a change (at a handshake).
const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The certificate chain (leaf first), PEM.
    pub certificate_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key_file: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM section.
    #[error("cannot read {what} from {path}: {detail}")]
    File {
        /// "the certificate chain" or "the private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The key does not suit the certificate, or rustls refused it.
    #[error("the certificate and key in {certificate} cannot be used together: {detail}")]
    Mismatch {
        /// The certificate file.
        certificate: PathBuf,
        /// What rustls said.
        detail: String,
    },
}

fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|meta| meta.modified()).ok()
}

fn load(settings: &TlsSettings) -> Result<Arc<CertifiedKey>, TlsError> {
    let file_error = |what, path: &Path, detail: String| TlsError::File { what, path: path.to_owned(), detail };
    let chain = CertificateDer::pem_file_iter(&settings.certificate_file)
        .map_err(|err| file_error("the certificate chain", &settings.certificate_file, err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| file_error("the certificate chain", &settings.certificate_file, err.to_string()))?;
    if chain.is_empty() {
        return Err(file_error("the certificate chain", &settings.certificate_file, "no CERTIFICATE section".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file)
        .map_err(|err| file_error("the private key", &settings.key_file, err.to_string()))?;
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|err| TlsError::Mismatch { certificate: settings.certificate_file.clone(), detail: err.to_string() })
}

/// The served certificate, read again when its files change.
#[derive(Debug)]
struct ReloadingCertificate {
    settings: TlsSettings,
    current: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl ReloadingCertificate {
    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (modified(&self.settings.certificate_file), modified(&self.settings.key_file))
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut current = self.current.lock().unwrap_or_else(|poison| poison.into_inner());
        if current.checked.elapsed() >= RELOAD_CHECK {
            current.checked = Instant::now();
            let stamps = self.stamps();
            if stamps != current.stamps {
                // A renewal writes two files; a half-written pair fails to
                // load and the old certificate stays until the next check.
                match load(&self.settings) {
                    Ok(key) => {
                        current.key = key;
                        current.stamps = stamps;
                        tracing::info!("TLS certificate reloaded");
                    }
                    Err(err) => tracing::warn!(error = %err, "the changed TLS files cannot be used yet"),
                }
            }
        }
        Some(current.key.clone())
    }
}

/// The rustls configuration for `settings` (HTTP/1.1, which WebSockets use).
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let resolver = ReloadingCertificate {
        settings: settings.clone(),
        current: Mutex::new(Loaded {
            key: load(settings)?,
            stamps: (modified(&settings.certificate_file), modified(&settings.key_file)),
            checked: Instant::now(),
        }),
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Mismatch { certificate: settings.certificate_file.clone(), detail: err.to_string() })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener whose connections are TLS, for `axum::serve`.
pub struct TlsListener {
    local: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `listener`, finishing each handshake in its own task.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (ready, accepted) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    () = ready.closed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(err) => {
                            // Out of file descriptors and the like: wait, as axum does.
                            tracing::warn!(error = %err, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let acceptor = acceptor.clone();
                let ready = ready.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = ready.send((stream, peer)).await;
                        }
                        // A client that speaks plain HTTP, distrusts the
                        // certificate or stalls: its own problem, logged
                        // without its address.
                        Ok(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, accepted })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `router` on `listener`, over TLS when `tls` is set (see
/// [`server_config`]), until `stopped` resolves. Requests carry their peer
/// as `ConnectInfo<Peer>` (for the per-address limits).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: axum::Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let service = router.into_make_service_with_connect_info::<Peer>();
    match tls {
        Some(config) => axum::serve(TlsListener::new(listener, config)?, service).with_graceful_shutdown(stopped).await,
        None => axum::serve(listener, service).with_graceful_shutdown(stopped).await,
    }
}

/// The TCP peer of a request, plain or TLS (`ConnectInfo<Peer>` in its
/// extensions when served by [`serve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// [`server_config`] of `tls` when set, as an `io::Error` naming the file
/// (for services that fail to start with an `io::Error`).
pub fn optional_server_config(tls: Option<&TlsSettings>) -> io::Result<Option<Arc<ServerConfig>>> {
    tls.map(server_config).transpose().map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let settings = TlsSettings { certificate_file: "/nonexistent/cert.pem".into(), key_file: "/x/key.pem".into() };
        let err = server_config(&settings).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn a_file_without_pem_is_refused() {
        let dir = std::env::temp_dir().join(format!("silta-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let settings = TlsSettings { certificate_file: cert, key_file: dir.join("key.pem") };
        let err = server_config(&settings).unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE section") || err.contains("certificate chain"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
