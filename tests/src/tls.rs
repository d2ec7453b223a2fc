//! Certificates for TLS tests, made with the `openssl` command: a private
//! test CA and server certificates it signs for 127.0.0.1 and localhost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A test CA and the server certificate it issued last, in a temporary
/// directory removed when dropped.
pub struct TestCertificates {
    dir: PathBuf,
    issued: u32,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl TestCertificates {
    /// A new CA and a first server certificate.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("silta-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a directory for the certificates");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Silta test CA"]);
        openssl(&dir, &ca);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("the extensions file");
        let mut certificates = Self { dir, issued: 0 };
        certificates.issue();
        certificates
    }

    /// Issues a new server certificate and key into [`Self::certificate_file`]
    /// and [`Self::key_file`] (a renewal); returns its DER.
    pub fn issue(&mut self) -> Vec<u8> {
        self.issued += 1;
        let subject = format!("/CN=silta-test-{}", self.issued);
        let mut request = vec!["req"];
        request.extend(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]);
        request.extend(["-keyout", "next.key", "-out", "server.csr", "-subj", &subject]);
        openssl(&self.dir, &request);
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "next.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        // Renamed into place, as certificate managers do.
        std::fs::rename(self.dir.join("next.key"), self.key_file()).expect("the key is moved into place");
        std::fs::rename(self.dir.join("next.pem"), self.certificate_file()).expect("the certificate is moved");
        self.certificate_der()
    }

    /// The current server certificate's DER.
    pub fn certificate_der(&self) -> Vec<u8> {
        CertificateDer::from_pem_file(self.certificate_file()).expect("the certificate reads").to_vec()
    }

    /// The server certificate (PEM).
    pub fn certificate_file(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server's private key (PEM).
    pub fn key_file(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// The CA certificate (PEM), for clients to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// An HTTPS client that trusts only this CA.
    pub fn http_client(&self) -> reqwest::Client {
        let ca = std::fs::read(self.ca_file()).expect("the CA reads");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("the CA parses"))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("an HTTPS client")
    }

    /// A TLS connection to `address` that trusts only this CA; the server's
    /// certificate is `stream.get_ref().1.peer_certificates()`.
    pub async fn connect(&self, address: std::net::SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(self.ca_file()).expect("the CA reads")).expect("the CA is a root");
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(address).await?;
        let name = ServerName::IpAddress(address.ip().into());
        TlsConnector::from(Arc::new(config)).connect(name, tcp).await
    }
}

impl Default for TestCertificates {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
