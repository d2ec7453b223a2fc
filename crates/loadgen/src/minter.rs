//! Access tokens for the load generators' synthetic clients, signed with
//! the key `silta dev` created (the binaries' shared `--signing-key`,
//! `--kid` and `--issuer` options).

use std::path::PathBuf;

use anyhow::Context;
use silta_auth::{AccessTokenRequest, SigningKey, TokenIssuer};
use silta_proto::v1::{LanguageTag, Role, Subject};

/// Where the signing key is and how tokens name their issuer.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// The signing key that `silta dev` created.
    #[arg(long, default_value = ".silta/keys/signing-key.pem")]
    pub signing_key: PathBuf,
    /// Its key id.
    #[arg(long, default_value = "dev")]
    pub kid: String,
    /// The token issuer.
    #[arg(long, default_value = "silta")]
    pub issuer: String,
}

impl KeyArgs {
    /// The same options, as arguments for a child process.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "--signing-key".into(),
            self.signing_key.clone().into_os_string(),
            "--kid".into(),
            self.kid.clone().into(),
            "--issuer".into(),
            self.issuer.clone().into(),
        ]
    }
}

/// Issues the synthetic clients' access tokens (15 minutes).
pub struct Minter {
    issuer: TokenIssuer,
}

impl Minter {
    /// Reads the signing key.
    pub fn load(key: &KeyArgs) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(&key.signing_key).with_context(|| {
            format!("cannot read {} (start `silta dev` once to create it)", key.signing_key.display())
        })?;
        Ok(Self { issuer: TokenIssuer::new(SigningKey::from_pkcs8_pem(key.kid.as_str(), &pem)?, &key.issuer) })
    }

    /// A token for `subject` in `role` of `organisation`, serving in
    /// `languages`.
    pub fn token(&self, subject: &str, role: Role, organisation: &str, languages: &[&str]) -> anyhow::Result<String> {
        Ok(self.issuer.issue_access(&AccessTokenRequest {
            subject: Subject::parse(subject)?,
            role,
            organisation: organisation.into(),
            languages: languages.iter().map(|tag| LanguageTag::parse(*tag)).collect::<Result<_, _>>()?,
            rooms: Vec::new(),
            lifetime_seconds: 900,
        })?)
    }
}
