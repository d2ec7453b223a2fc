//! Staff sign-in settings: the identity providers (`[[auth.oidc]]`) and how
//! their claims map to a Silta role, organisation and languages.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use silta_proto::v1::{LanguageTag, Role};

/// Staff sign-in through the organisations' identity providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigninSettings {
    /// Where people reach Silta (`https://silta.example`, no trailing
    /// slash). The identity providers send them back to
    /// `<public_url>/auth/oidc/<id>/callback` after sign-in and to
    /// `<public_url>/auth/signed-out` after signing out.
    pub public_url: String,
    /// Lifetime of a staff access token (at most 900 s); the apps renew it
    /// before it ends.
    pub staff_token_lifetime_seconds: u64,
    /// The longest a staff session lasts before signing in again.
    pub staff_session_hours: u64,
    /// How often (seconds) a renewal asks the identity provider whether the
    /// person's session there still stands (refresh token); signing out at
    /// the provider ends the Silta session at the next renewal after that.
    pub recheck_seconds: u64,
    /// The identity providers, side by side.
    pub providers: Vec<OidcProvider>,
}

/// One OpenID Connect identity provider (`[[auth.oidc]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// Short id in URLs (`vero`, `kemi`): lowercase letters, digits, `-`.
    pub id: String,
    /// The name on the sign-in button ("Verohallinto").
    pub name: String,
    /// The issuer URL; its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    /// The client id Silta is registered under at the provider.
    pub client_id: String,
    /// The client secret (or `client_secret_file`); neither: a public
    /// client, with PKCE only.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A file holding the client secret (a mounted Kubernetes secret).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes to ask for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Which claims say who the person is in Silta.
    #[serde(default)]
    pub claims: ClaimMapping,
}

impl Default for SigninSettings {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            staff_token_lifetime_seconds: 900,
            staff_session_hours: 12,
            recheck_seconds: 60,
            providers: Vec::new(),
        }
    }
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into()]
}

/// How a provider's ID-token claims become a Silta identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// The claim naming the person, pseudonymously (`sub`; Entra ID: `oid`).
    /// Never an e-mail address or a name.
    pub subject: String,
    /// Put before the subject (default: the provider's id and `:`), so two
    /// providers' people never collide.
    pub subject_prefix: Option<String>,
    /// The claim holding the person's roles or groups (a string or a list).
    pub role: String,
    /// Role or group value → Silta role (`advisor`, `expert`, `interpreter`,
    /// `admin`). A value not listed gives no role.
    pub roles: BTreeMap<String, Role>,
    /// The claim holding the organisation: the service point id of an
    /// advisor, the agency code of an expert (a string or a list).
    pub organisation: Option<String>,
    /// Claim value → organisation (e.g. a group to a service point id);
    /// empty: the claim's value is the organisation.
    pub organisations: BTreeMap<String, String>,
    /// Every person of this provider belongs to this organisation (an
    /// agency's own provider: `VERO`); instead of `organisation`.
    pub fixed_organisation: Option<String>,
    /// The claim listing the languages the person serves in (a list, or a
    /// string separated by spaces or commas).
    pub languages: Option<String>,
    /// Languages when the claim is absent or empty.
    pub default_languages: Vec<LanguageTag>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            subject_prefix: None,
            role: "roles".into(),
            roles: BTreeMap::new(),
            organisation: None,
            organisations: BTreeMap::new(),
            fixed_organisation: None,
            languages: None,
            default_languages: vec![LanguageTag::parse("fi").unwrap_or_else(|_| unreachable!("a valid tag"))],
        }
    }
}

impl SigninSettings {
    /// Checks the settings; a mistake names the provider and the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.staff_token_lifetime_seconds == 0
            || self.staff_token_lifetime_seconds > silta_auth::MAX_ACCESS_TOKEN_LIFETIME
        {
            return Err("auth.staff_token_lifetime_seconds must be between 1 and 900".into());
        }
        if self.staff_session_hours == 0 || self.staff_session_hours > 24 * 7 {
            return Err("auth.staff_session_hours must be between 1 and 168".into());
        }
        if self.providers.is_empty() {
            return Ok(());
        }
        let url = self.public_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.ends_with('/') {
            return Err("auth.public_url must be where people reach Silta, e.g. https://silta.example (no trailing slash), when [[auth.oidc]] providers are set".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for provider in &self.providers {
            let id = &provider.id;
            let ok = !id.is_empty()
                && id.len() <= 32
                && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(format!("[[auth.oidc]] id {id:?}: 1–32 lowercase letters, digits or '-'"));
            }
            if !seen.insert(id.clone()) {
                return Err(format!("[[auth.oidc]] id {id:?} appears twice"));
            }
            let named = |key: &str| format!("[[auth.oidc]] {id}: {key}");
            if provider.name.trim().is_empty() {
                return Err(named("name must be set (it is shown on the sign-in button)"));
            }
            if openidconnect::IssuerUrl::new(provider.issuer.clone()).is_err() {
                return Err(named("issuer must be a URL"));
            }
            if provider.client_id.is_empty() {
                return Err(named("client_id must be set"));
            }
            if provider.client_secret.is_some() && provider.client_secret_file.is_some() {
                return Err(named("set client_secret or client_secret_file, not both"));
            }
            let claims = &provider.claims;
            if claims.roles.is_empty() {
                return Err(named("claims.roles must map at least one claim value to a role"));
            }
            if claims.roles.values().any(|role| *role == Role::Kiosk) {
                return Err(named("claims.roles: kiosks do not sign in (they hold device credentials)"));
            }
            if claims.organisation.is_some() == claims.fixed_organisation.is_some() {
                return Err(named("set exactly one of claims.organisation (a claim) or claims.fixed_organisation"));
            }
            if claims.default_languages.is_empty() {
                return Err(named("claims.default_languages must name at least one language"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(id: &str) -> OidcProvider {
        OidcProvider {
            id: id.into(),
            name: "Verohallinto".into(),
            issuer: "https://login.example/tenant/v2.0".into(),
            client_id: "silta".into(),
            client_secret: Some("secret".into()),
            client_secret_file: None,
            scopes: default_scopes(),
            claims: ClaimMapping {
                roles: [("Silta.Expert".into(), Role::Expert)].into(),
                fixed_organisation: Some("VERO".into()),
                ..ClaimMapping::default()
            },
        }
    }

    fn with(providers: Vec<OidcProvider>) -> SigninSettings {
        SigninSettings { public_url: "https://silta.example".into(), providers, ..SigninSettings::default() }
    }

    #[test]
    fn each_mistake_in_the_providers_is_named() {
        assert_eq!(with(vec![provider("vero")]).validate(), Ok(()));
        assert_eq!(SigninSettings::default().validate(), Ok(()), "no providers, nothing to check");
        let refused = |settings: SigninSettings, words: &str| {
            let err = settings.validate().expect_err("refused");
            assert!(err.contains(words), "{err:?} should say {words:?}");
        };
        refused(SigninSettings { public_url: String::new(), ..with(vec![provider("vero")]) }, "auth.public_url");
        refused(
            SigninSettings { public_url: "https://silta.example/".into(), ..with(vec![provider("vero")]) },
            "trailing",
        );
        refused(with(vec![provider("Vero Hallinto")]), "lowercase");
        refused(with(vec![provider("vero"), provider("vero")]), "twice");
        refused(with(vec![OidcProvider { issuer: "not a url".into(), ..provider("vero") }]), "issuer");
        refused(
            with(vec![OidcProvider { client_secret_file: Some("/run/secret".into()), ..provider("vero") }]),
            "not both",
        );
        let mut no_roles = provider("vero");
        no_roles.claims.roles.clear();
        refused(with(vec![no_roles]), "claims.roles");
        let mut kiosk = provider("vero");
        kiosk.claims.roles.insert("Silta.Kiosk".into(), Role::Kiosk);
        refused(with(vec![kiosk]), "kiosks do not sign in");
        let mut both = provider("vero");
        both.claims.organisation = Some("groups".into());
        refused(with(vec![both]), "exactly one");
        refused(SigninSettings { staff_token_lifetime_seconds: 901, ..with(vec![]) }, "900");
    }
}
