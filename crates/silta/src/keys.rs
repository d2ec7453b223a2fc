//! Loading (and for development, creating) the signing key, and building
//! the verifier from the configured keys.

use std::path::{Path, PathBuf};

use anyhow::Context;
use silta_auth::{SigningKey, TokenIssuer, TokenVerifier};

use crate::settings::Settings;

/// Where `silta dev` keeps its generated key.
pub fn dev_key_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("keys").join("signing-key.pem")
}

/// Reads a PKCS#8 PEM signing key.
pub fn read_signing_key(path: &Path, kid: &str) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("cannot read signing key {}", path.display()))?;
    SigningKey::from_pkcs8_pem(kid, &pem).with_context(|| format!("invalid signing key in {}", path.display()))
}

/// Reads the signing key, creating it first when it does not exist.
pub fn read_or_create_signing_key(path: &Path, kid: &str) -> anyhow::Result<SigningKey> {
    if path.exists() {
        return read_signing_key(path, kid);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let key = SigningKey::generate(kid).context("cannot generate a signing key")?;
    write_private(path, &key.to_pkcs8_pem())?;
    tracing::info!(path = %path.display(), "generated a development signing key");
    Ok(key)
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The issuer and verifier for a node. `signing_key` may be absent on nodes
/// that only verify.
pub fn issuer_and_verifier(
    settings: &Settings,
    signing_key: Option<SigningKey>,
) -> anyhow::Result<(Option<TokenIssuer>, TokenVerifier, Vec<silta_auth::VerificationKey>)> {
    let mut keys = settings.auth.verification_keys.clone();
    if let Some(key) = &signing_key {
        keys.push(key.verification_key());
    }
    anyhow::ensure!(
        !keys.is_empty(),
        "no token keys: set auth.signing_key_file or auth.verification_keys (see deploy/silta.sample.toml)"
    );
    let verifier = TokenVerifier::new(&settings.auth.issuer, &keys)
        .context("invalid auth.verification_keys")?
        .with_revoked_devices(settings.auth.revoked_devices.iter().cloned());
    let issuer = signing_key.map(|key| TokenIssuer::new(key, &settings.auth.issuer));
    Ok((issuer, verifier, keys))
}
