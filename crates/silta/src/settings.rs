//! Layered, typed settings: defaults → config file → `SILTA_…` environment.
//!
//! Nested keys use a double underscore in the environment:
//! `SILTA_SIGNAL__BIND=0.0.0.0:7100` sets `signal.bind`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use silta_auth::VerificationKey;
use silta_booking::BookingSettings;
use silta_cluster::ClusterSettings;
use silta_sfu::SfuSettings;
use silta_signal::SignalSettings;
use silta_telemetry::TelemetrySettings;

/// All settings of the `silta` binary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where `silta dev` keeps its keys and data.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogSettings,
    /// Tokens.
    pub auth: AuthSettings,
    /// The signal service.
    pub signal: SignalSettings,
    /// The booking service.
    pub booking: BookingSettings,
    /// The SFU media relay.
    pub sfu: SfuSettings,
    /// The browser apps.
    pub web: WebSettings,
    /// The cluster's control plane (NATS); unset for `silta dev`.
    pub cluster: ClusterSettings,
    /// Traces and metrics to an OpenTelemetry collector.
    pub telemetry: TelemetrySettings,
}

/// Where the browser apps are served from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Directory holding `web/` (the apps are plain ES modules: no build
    /// step). Empty: `./web` when it exists, else the `web/` of the checkout
    /// the binary was built from.
    pub root: PathBuf,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self { root: PathBuf::new() }
    }
}

impl WebSettings {
    /// The directory to serve.
    pub fn resolved_root(&self) -> PathBuf {
        if !self.root.as_os_str().is_empty() {
            return self.root.clone();
        }
        // `cargo run` from the repository root finds ./web; a binary run
        // elsewhere falls back to the checkout it was built from.
        let here = PathBuf::from("web");
        if here.join("index.html").is_file() {
            return here;
        }
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        if checkout.join("index.html").is_file() { checkout } else { here }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".silta"),
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            signal: SignalSettings::default(),
            booking: BookingSettings::default(),
            sfu: SfuSettings::default(),
            web: WebSettings::default(),
            cluster: ClusterSettings::default(),
            telemetry: TelemetrySettings::default(),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `silta_signal=debug,info`;
    /// `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Pretty, filter: "info".into() }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Token settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The `iss` of tokens issued and accepted.
    pub issuer: String,
    /// PKCS#8 PEM file of the Ed25519 signing key. `silta dev` creates one
    /// under `data_dir` when unset.
    pub signing_key_file: Option<PathBuf>,
    /// Key id (`kid`) of the signing key.
    pub signing_key_id: String,
    /// Further public keys to accept (key rotation, other issuers' nodes).
    pub verification_keys: Vec<VerificationKey>,
    /// Device credentials to refuse, by kiosk id or credential id.
    pub revoked_devices: Vec<String>,
    /// Where people reach Silta (`https://silta.example`, no trailing
    /// slash): the identity providers send people back here.
    pub public_url: String,
    /// Lifetime of a staff access token from a sign-in (at most 900 s).
    pub staff_token_lifetime_seconds: u64,
    /// The longest a staff session lasts before signing in again.
    pub staff_session_hours: u64,
    /// How often (seconds) a token renewal asks the identity provider
    /// whether the person's session there still stands.
    pub recheck_seconds: u64,
    /// The organisations' identity providers for staff sign-in
    /// (`[[auth.oidc]]`, see docs/identity.md).
    pub oidc: Vec<silta_signal::signin::OidcProvider>,
}

impl AuthSettings {
    /// The staff sign-in part of the settings.
    pub fn signin(&self) -> silta_signal::signin::SigninSettings {
        silta_signal::signin::SigninSettings {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            staff_token_lifetime_seconds: self.staff_token_lifetime_seconds,
            staff_session_hours: self.staff_session_hours,
            recheck_seconds: self.recheck_seconds,
            providers: self.oidc.clone(),
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "silta".into(),
            signing_key_file: None,
            signing_key_id: "dev".into(),
            verification_keys: Vec::new(),
            revoked_devices: Vec::new(),
            public_url: String::new(),
            staff_token_lifetime_seconds: 900,
            staff_session_hours: 12,
            recheck_seconds: 60,
            oidc: Vec::new(),
        }
    }
}

/// The `SILTA_` variables of the settings' form: `SILTA_<SECTION>__<KEY>`
/// (a mistyped one is refused by name) or a top-level key such as
/// `SILTA_DATA_DIR`. Others that merely start with `SILTA_` (`SILTA_CONFIG`,
/// which names the file, or a script's own `SILTA_BIN`) are not settings.
fn settings_environment() -> Env {
    Env::prefixed("SILTA_")
        .filter(|key| key.as_str().contains("__") || key.as_str().eq_ignore_ascii_case("data_dir"))
        .split("__")
}

/// The `SILTA_` variables of the environment that are not read as settings
/// (`SILTA_SIGNAL_BIND` with one underscore, say), by name, so a mistyped
/// one is reported rather than silently ignored. `SILTA_CONFIG` names the
/// file and is not among them.
pub fn ignored_environment() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            let upper = name.to_ascii_uppercase();
            upper
                .strip_prefix("SILTA_")
                .is_some_and(|rest| !rest.contains("__") && rest != "DATA_DIR" && rest != "CONFIG")
        })
        .collect()
}

impl Settings {
    /// Loads the settings: defaults, then `file` (or `silta.toml` in the
    /// working directory when it exists), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(file) => {
                anyhow::ensure!(file.exists(), "config file {} does not exist", file.display());
                figment = figment.merge(Toml::file(file));
            }
            None => figment = figment.merge(Toml::file("silta.toml")),
        }
        let settings: Settings = figment
            .merge(settings_environment())
            .extract()
            .context("invalid settings (defaults → config file → SILTA_ environment)")?;
        settings.signal.validate().map_err(anyhow::Error::msg).context("invalid [signal] settings")?;
        settings.sfu.validate().map_err(anyhow::Error::msg).context("invalid [sfu] settings")?;
        settings.auth.signin().validate().map_err(anyhow::Error::msg).context("invalid staff sign-in ([auth])")?;
        if settings.cluster.enabled() {
            settings.cluster.validate().map_err(anyhow::Error::msg).context("invalid [cluster] settings")?;
        }
        Ok(settings)
    }

    /// The booking database URL: the configured one, or an SQLite file in
    /// the data directory.
    pub fn booking_database_url(&self) -> anyhow::Result<String> {
        if !self.booking.database_url.is_empty() {
            return Ok(self.booking.database_url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create the data directory {}", self.data_dir.display()))?;
        Ok(silta_booking::Store::sqlite_url(&self.data_dir.join("booking.db")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_config_parses_and_matches_the_defaults_where_it_says_so() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/silta.sample.toml");
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&sample))
            .extract()
            .expect("the sample config is valid");
        assert_eq!(settings.signal.max_message_bytes, 160 * 1024);
        settings.signal.validate().expect("sample values validate");
        assert_eq!(settings.signal.request_limits, silta_http::limits::RequestLimits::default());
        assert_eq!(settings.booking.request_limits, silta_http::limits::RequestLimits::default());
        assert_eq!(settings.cluster.heartbeat_ms, ClusterSettings::default().heartbeat_ms);
        let cluster = ClusterSettings { nats_url: "nats://127.0.0.1:4222".into(), ..settings.cluster };
        cluster.validate().expect("sample cluster values validate");
    }

    #[test]
    // figment's Jail returns its own (large) error type.
    #[allow(clippy::result_large_err)]
    fn identity_providers_are_configured_side_by_side_and_checked() {
        let toml = r#"
            [auth]
            public_url = "https://silta.example/"
            [[auth.oidc]]
            id = "vero"
            name = "Verohallinto"
            issuer = "https://login.example/tenant/v2.0"
            client_id = "silta"
            client_secret = "s"
            [auth.oidc.claims]
            subject = "oid"
            roles = { "Silta.Expert" = "expert" }
            fixed_organisation = "VERO"
            [[auth.oidc]]
            id = "kemi"
            name = "Kemin kaupunki"
            issuer = "https://sso.kemi.example/realms/staff"
            client_id = "silta"
            [auth.oidc.claims]
            role = "groups"
            roles = { "palveluneuvoja" = "advisor" }
            organisation = "groups"
            organisations = { "palvelupiste-kemi" = "sp-kemi" }
        "#;
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(toml))
            .extract()
            .expect("two providers parse");
        let signin = settings.auth.signin();
        assert_eq!(signin.public_url, "https://silta.example", "the trailing slash is dropped");
        assert_eq!(signin.providers.len(), 2);
        assert_eq!(signin.providers[0].claims.subject, "oid");
        assert_eq!(signin.providers[1].claims.subject, "sub", "the default subject claim");
        assert_eq!(signin.providers[0].scopes, ["profile"], "the default scopes");
        signin.validate().expect("valid");
        // A mistyped key in a provider's mapping is refused by name.
        let typo = toml.replace("fixed_organisation", "fixed_organization");
        let err = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(&typo))
            .extract::<Settings>()
            .expect_err("refused");
        assert!(err.to_string().contains("fixed_organization"), "{err}");
    }

    #[test]
    // figment's `Jail` closures return its (large) error type by design.
    #[allow(clippy::result_large_err)]
    fn only_variables_of_the_settings_form_are_read_and_a_mistyped_one_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SILTA_CONFIG", "/etc/silta/silta.toml");
            jail.set_env("SILTA_BIN", "/usr/local/bin/silta");
            jail.set_env("SILTA_DATA_DIR", "/var/lib/silta");
            jail.set_env("SILTA_SIGNAL__MAX_PARTICIPANTS", "4");
            let settings: Settings =
                Figment::from(Serialized::defaults(Settings::default())).merge(settings_environment()).extract()?;
            assert_eq!(settings.data_dir, PathBuf::from("/var/lib/silta"));
            assert_eq!(settings.signal.max_participants, 4);
            jail.set_env("SILTA_SIGNAL__MAX_PARTICPANTS", "4");
            let mistyped: Result<Settings, _> =
                Figment::from(Serialized::defaults(Settings::default())).merge(settings_environment()).extract();
            let message = mistyped.expect_err("a mistyped key is refused").to_string();
            assert!(message.contains("max_particpants"), "{message}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused() {
        let result: Result<Settings, _> = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string("[signal]\nbnid = \"x\""))
            .extract();
        assert!(result.is_err());
    }
}
