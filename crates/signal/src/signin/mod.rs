//! Staff sign-in with the organisations' own identity providers: OpenID
//! Connect's authorization code flow with PKCE, several providers side by
//! side (`[[auth.oidc]]`).
//!
//! - `GET /auth/providers`: the configured providers (id and name).
//! - `GET /auth/oidc/<id>/start?app=<role>`: to the provider's sign-in,
//!   with the state, nonce and PKCE verifier sealed in a short-lived
//!   HttpOnly cookie (any signal node opens it: the key derives from the
//!   signing key).
//! - `GET /auth/oidc/<id>/callback`: the code exchanged, the ID token
//!   verified by the `openidconnect` library (signature by the provider's
//!   published keys, issuer, audience, expiry, nonce), its claims mapped to
//!   a role, organisation and languages (`mapping`); then a sealed
//!   HttpOnly session cookie and back to the app. A refusal goes to
//!   `/signin/?error=<code>`.
//! - `POST /auth/session`: a Silta access token for the session's holder
//!   (the apps keep it in memory and ask again before it ends); every
//!   `recheck_seconds` the provider is asked with the refresh token whether
//!   the person's session there still stands.
//! - `POST /auth/signout`: the cookie cleared; the answer names the
//!   provider's end-session page to go to.
//!
//! Tokens never appear in a URL, a log line or the browser's storage: the
//! session cookie is HttpOnly and sealed, the access token lives in the
//! page's memory. Nothing here logs a claim's value.

mod mapping;
mod provider;
mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use silta_auth::{AccessTokenRequest, Sealer, TokenIssuer, unix_now};
use silta_http::problem;
use silta_proto::v1::{LanguageTag, Role};

pub use mapping::{Mapped, map_claims};
pub use provider::ProviderClient;
pub use settings::{ClaimMapping, OidcProvider, SigninSettings};

const LOGIN_COOKIE: &str = "silta_signin";
const SESSION_COOKIE: &str = "silta_session";
/// How long a sign-in may take at the provider.
const LOGIN_SECONDS: u64 = 600;

/// Why a sign-in or a session renewal was refused; each has its own code,
/// shown on the sign-in page and in the problem+json answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigninError {
    #[error("no such identity provider")]
    UnknownProvider,
    #[error("the app to sign in to is not a staff app")]
    UnknownApp,
    #[error("the identity provider cannot be reached")]
    ProviderUnreachable,
    #[error("the sign-in's state does not match the one this browser started")]
    StateMismatch,
    #[error("this sign-in was already completed once")]
    StateReplayed,
    #[error("the sign-in took too long")]
    LoginExpired,
    #[error("the identity provider refused the sign-in")]
    Denied,
    #[error("the identity provider refused the authorization code")]
    CodeRejected,
    #[error("the identity provider sent no ID token")]
    IdTokenMissing,
    #[error("the ID token was issued by another issuer")]
    WrongIssuer,
    #[error("the ID token was issued to another client")]
    WrongAudience,
    #[error("the ID token's nonce is not this sign-in's")]
    NonceMismatch,
    #[error("the ID token's signature does not verify")]
    BadSignature,
    #[error("the ID token has expired")]
    TokenExpired,
    #[error("the ID token is not valid")]
    IdTokenInvalid,
    #[error("the account has no role in Silta")]
    NoRole,
    #[error("the account has a role in Silta, but not in this app")]
    OtherRole(Vec<Role>),
    #[error("the account's claims name no organisation")]
    OrganisationMissing,
    #[error("the account's claims name more than one organisation")]
    OrganisationAmbiguous,
    #[error("the account's organisation is not one Silta knows for the role")]
    OrganisationInvalid,
    #[error("the account's subject claim cannot name a Silta user")]
    SubjectUnusable,
    #[error("this node does not sign people in")]
    Unavailable,
}

impl SigninError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            SigninError::UnknownProvider => "oidc_unknown_provider",
            SigninError::UnknownApp => "oidc_unknown_app",
            SigninError::ProviderUnreachable => "oidc_provider_unreachable",
            SigninError::StateMismatch => "oidc_state_mismatch",
            SigninError::StateReplayed => "oidc_state_replayed",
            SigninError::LoginExpired => "oidc_login_expired",
            SigninError::Denied => "oidc_denied",
            SigninError::CodeRejected => "oidc_code_rejected",
            SigninError::IdTokenMissing => "oidc_id_token_missing",
            SigninError::WrongIssuer => "oidc_wrong_issuer",
            SigninError::WrongAudience => "oidc_wrong_audience",
            SigninError::NonceMismatch => "oidc_nonce_mismatch",
            SigninError::BadSignature => "oidc_bad_signature",
            SigninError::TokenExpired => "oidc_token_expired",
            SigninError::IdTokenInvalid => "oidc_id_token_invalid",
            SigninError::NoRole => "oidc_no_role",
            SigninError::OtherRole(_) => "oidc_other_role",
            SigninError::OrganisationMissing => "oidc_organisation_missing",
            SigninError::OrganisationAmbiguous => "oidc_organisation_ambiguous",
            SigninError::OrganisationInvalid => "oidc_organisation_invalid",
            SigninError::SubjectUnusable => "oidc_subject_unusable",
            SigninError::Unavailable => "signin_unavailable",
        }
    }
}

/// What the browser holds while it is at the provider.
#[derive(Serialize, Deserialize)]
struct LoginState {
    provider: String,
    app: Role,
    state: String,
    nonce: String,
    verifier: String,
    started: u64,
}

/// What the browser holds while signed in.
#[derive(Serialize, Deserialize)]
struct Session {
    provider: String,
    subject: silta_proto::v1::Subject,
    role: Role,
    organisation: String,
    languages: Vec<LanguageTag>,
    /// Absolute end (seconds since the epoch).
    ends: u64,
    /// When the provider last said the session stands.
    checked: u64,
    refresh_token: Option<String>,
}

/// Staff sign-in: its providers, keys and the states already used.
pub struct Signin {
    settings: SigninSettings,
    providers: Vec<Arc<ProviderClient>>,
    issuer: Option<Arc<TokenIssuer>>,
    login: Option<Sealer>,
    session: Option<Sealer>,
    /// Sign-in states already completed, until their sign-in would have
    /// expired anyway: a replayed callback is told apart from a stray one.
    used: Mutex<HashMap<String, u64>>,
}

impl Signin {
    /// Sign-in with `settings`; without an issuer (a node with no signing
    /// key) every endpoint answers `signin_unavailable`.
    pub fn new(settings: SigninSettings, issuer: Option<Arc<TokenIssuer>>) -> Result<Self, String> {
        settings.validate()?;
        let http = provider::http_client()?;
        let providers = settings
            .providers
            .iter()
            .map(|provider| ProviderClient::new(provider.clone(), &settings.public_url, http.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, String>>()?;
        let login = issuer.as_ref().map(|issuer| issuer.sealer("silta staff sign-in state"));
        let session = issuer.as_ref().map(|issuer| issuer.sealer("silta staff session"));
        Ok(Self { settings, providers, issuer, login, session, used: Mutex::new(HashMap::new()) })
    }

    fn provider(&self, id: &str) -> Result<&Arc<ProviderClient>, SigninError> {
        self.providers.iter().find(|provider| provider.id() == id).ok_or(SigninError::UnknownProvider)
    }

    fn secure(&self) -> bool {
        self.settings.public_url.starts_with("https://")
    }

    /// Marks a sign-in state used; false when it already was.
    fn first_use(&self, state: &str, now: u64) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|poison| poison.into_inner());
        used.retain(|_, until| *until > now);
        if used.len() >= 100_000 {
            // A flood of sign-ins: forget the oldest half rather than grow.
            let mut ends: Vec<u64> = used.values().copied().collect();
            ends.sort_unstable();
            let cut = ends[ends.len() / 2];
            used.retain(|_, until| *until > cut);
        }
        used.insert(state.to_owned(), now + LOGIN_SECONDS).is_none()
    }

    fn was_used(&self, state: &str) -> bool {
        let used = self.used.lock().unwrap_or_else(|poison| poison.into_inner());
        used.get(state).is_some_and(|until| *until > unix_now())
    }
}

/// The sign-in routes.
pub fn router(signin: Arc<Signin>) -> Router {
    Router::new()
        .route("/auth/providers", get(providers))
        .route("/auth/oidc/{provider}/start", get(start))
        .route("/auth/oidc/{provider}/callback", get(callback))
        .route("/auth/session", post(session))
        .route("/auth/signout", post(signout))
        .route("/auth/signed-out", get(|| async { Redirect::to("/signin/?signed_out=1") }))
        .with_state(signin)
}

async fn providers(State(signin): State<Arc<Signin>>) -> Json<serde_json::Value> {
    let providers: Vec<serde_json::Value> = signin
        .providers
        .iter()
        .map(|provider| serde_json::json!({ "id": provider.id(), "name": provider.name() }))
        .collect();
    Json(serde_json::json!({ "providers": providers }))
}

fn parse_app(app: Option<&str>) -> Result<Role, SigninError> {
    match app {
        Some("advisor") => Ok(Role::Advisor),
        Some("expert") => Ok(Role::Expert),
        Some("interpreter") => Ok(Role::Interpreter),
        Some("admin") => Ok(Role::Admin),
        _ => Err(SigninError::UnknownApp),
    }
}

/// To the sign-in page with the reason (the page says it in the person's
/// language); nothing but the code and the app travels in the address.
fn refused(err: &SigninError, app: Option<Role>) -> Response {
    let mut to = format!("/signin/?error={}", err.code());
    if let Some(app) = app {
        to.push_str(&format!("&app={}", app.as_str()));
    }
    if let SigninError::OtherRole(roles) = err {
        let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        to.push_str(&format!("&roles={}", roles.join(",")));
    }
    let mut response = Redirect::to(&to).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn cookie(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("silta_invalid=; Max-Age=0"))
}

fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[derive(Deserialize)]
struct StartQuery {
    app: Option<String>,
}

async fn start(State(signin): State<Arc<Signin>>, Path(id): Path<String>, Query(query): Query<StartQuery>) -> Response {
    let app = match parse_app(query.app.as_deref()) {
        Ok(app) => app,
        Err(err) => return refused(&err, None),
    };
    let (Some(sealer), Ok(provider)) = (&signin.login, signin.provider(&id)) else {
        let err = if signin.login.is_none() { SigninError::Unavailable } else { SigninError::UnknownProvider };
        return refused(&err, Some(app));
    };
    let started = match provider.start().await {
        Ok(started) => started,
        Err(err) => {
            tracing::warn!(provider = %id, code = err.code(), "a staff sign-in could not start");
            return refused(&err, Some(app));
        }
    };
    let login = LoginState {
        provider: id,
        app,
        state: started.state,
        nonce: started.nonce,
        verifier: started.verifier,
        started: unix_now(),
    };
    let Ok(sealed) = serde_json::to_vec(&login).map_err(|_| ()).and_then(|plain| sealer.seal(&plain).map_err(|_| ()))
    else {
        return refused(&SigninError::Unavailable, Some(app));
    };
    let mut response = Redirect::to(started.url.as_str()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::SET_COOKIE, cookie(LOGIN_COOKIE, &sealed, LOGIN_SECONDS, signin.secure()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(signin): State<Arc<Signin>>,
    Path(id): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let login: Option<LoginState> = signin
        .login
        .as_ref()
        .zip(read_cookie(&headers, LOGIN_COOKIE))
        .and_then(|(sealer, sealed)| sealer.open(sealed).ok())
        .and_then(|plain| serde_json::from_slice(&plain).ok());
    let app = login.as_ref().map(|login| login.app);
    let outcome = complete(&signin, &id, &query, login).await;
    let mut response = match outcome {
        Ok((mapped, refresh_token)) => match new_session(&signin, &id, mapped, refresh_token) {
            Ok((app, sealed)) => {
                tracing::info!(provider = %id, role = app.as_str(), "staff signed in");
                let mut response = Redirect::to(&format!("/{}/", app.as_str())).into_response();
                response.headers_mut().append(
                    header::SET_COOKIE,
                    cookie(SESSION_COOKIE, &sealed, signin.settings.staff_session_hours * 3600, signin.secure()),
                );
                response
            }
            Err(err) => refused(&err, app),
        },
        Err(err) => {
            tracing::warn!(provider = %id, code = err.code(), "a staff sign-in was refused");
            refused(&err, app)
        }
    };
    // The sign-in's state is spent either way.
    response.headers_mut().append(header::SET_COOKIE, cookie(LOGIN_COOKIE, "", 0, signin.secure()));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Checks the callback against the sign-in this browser started, then
/// lets the provider's client exchange the code and verify the ID token.
async fn complete(
    signin: &Signin,
    id: &str,
    query: &CallbackQuery,
    login: Option<LoginState>,
) -> Result<(Mapped, Option<String>), SigninError> {
    let provider = signin.provider(id)?;
    let state = query.state.as_deref().unwrap_or_default();
    let Some(login) = login.filter(|login| login.state == state && login.provider == id) else {
        return Err(if !state.is_empty() && signin.was_used(state) {
            SigninError::StateReplayed
        } else {
            SigninError::StateMismatch
        });
    };
    let now = unix_now();
    if !signin.first_use(state, now) {
        return Err(SigninError::StateReplayed);
    }
    if login.started + LOGIN_SECONDS < now {
        return Err(SigninError::LoginExpired);
    }
    if query.error.is_some() {
        return Err(SigninError::Denied);
    }
    let code = query.code.as_deref().filter(|code| !code.is_empty()).ok_or(SigninError::CodeRejected)?;
    let verified = provider.exchange(code, &login.verifier, &login.nonce).await?;
    let mapped = map_claims(provider.settings(), &verified.claims, login.app)?;
    Ok((mapped, verified.refresh_token))
}

fn new_session(
    signin: &Signin,
    provider: &str,
    mapped: Mapped,
    refresh_token: Option<String>,
) -> Result<(Role, String), SigninError> {
    let now = unix_now();
    let session = Session {
        provider: provider.to_owned(),
        subject: mapped.subject,
        role: mapped.role,
        organisation: mapped.organisation,
        languages: mapped.languages,
        ends: now + signin.settings.staff_session_hours * 3600,
        checked: now,
        refresh_token,
    };
    let sealed = seal_session(signin, &session)?;
    Ok((session.role, sealed))
}

fn seal_session(signin: &Signin, session: &Session) -> Result<String, SigninError> {
    let sealer = signin.session.as_ref().ok_or(SigninError::Unavailable)?;
    let plain = serde_json::to_vec(session).map_err(|_| SigninError::Unavailable)?;
    sealer.seal(&plain).map_err(|_| SigninError::Unavailable)
}

fn open_session(signin: &Signin, headers: &HeaderMap) -> Option<Session> {
    let sealed = read_cookie(headers, SESSION_COOKIE)?;
    let plain = signin.session.as_ref()?.open(sealed).ok()?;
    serde_json::from_slice(&plain).ok()
}

fn session_problem(status: StatusCode, code: &str, detail: &str, clear: bool, secure: bool) -> Response {
    let mut response = problem(status, code, detail);
    if clear {
        response.headers_mut().append(header::SET_COOKIE, cookie(SESSION_COOKIE, "", 0, secure));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /auth/session`: an access token for the session's holder.
async fn session(State(signin): State<Arc<Signin>>, headers: HeaderMap) -> Response {
    let secure = signin.secure();
    let Some(issuer) = &signin.issuer else {
        return session_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "signin_unavailable",
            "this node does not sign people in",
            false,
            secure,
        );
    };
    if read_cookie(&headers, SESSION_COOKIE).is_none() {
        return session_problem(StatusCode::UNAUTHORIZED, "session_missing", "nobody is signed in here", false, secure);
    }
    let now = unix_now();
    let Some(mut session) = open_session(&signin, &headers).filter(|session| session.ends > now) else {
        return session_problem(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "the session has ended; sign in again",
            true,
            secure,
        );
    };
    let Ok(provider) = signin.provider(&session.provider) else {
        return session_problem(
            StatusCode::UNAUTHORIZED,
            "session_ended",
            "the identity provider is no longer configured",
            true,
            secure,
        );
    };
    let mut renewed_cookie = None;
    if let Some(refresh_token) = session.refresh_token.clone()
        && session.checked + signin.settings.recheck_seconds <= now
    {
        match provider.refresh(&refresh_token).await {
            Ok(refreshed) => {
                if let Some(claims) = &refreshed.claims {
                    // The provider may have taken the role or moved the person.
                    match map_claims(provider.settings(), claims, session.role) {
                        Ok(mapped) => {
                            session.organisation = mapped.organisation;
                            session.languages = mapped.languages;
                        }
                        Err(err) => {
                            tracing::info!(provider = %session.provider, code = err.code(), "a staff session ended: the role is gone");
                            return session_problem(
                                StatusCode::UNAUTHORIZED,
                                "session_ended",
                                "the identity provider no longer gives this role",
                                true,
                                secure,
                            );
                        }
                    }
                }
                session.refresh_token = refreshed.refresh_token.or(session.refresh_token);
                session.checked = now;
                renewed_cookie = Some(seal_session(&signin, &session));
            }
            Err(SigninError::ProviderUnreachable) => {
                return session_problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "oidc_provider_unreachable",
                    "the identity provider cannot be reached; try again",
                    false,
                    secure,
                );
            }
            Err(err) => {
                tracing::info!(provider = %session.provider, code = err.code(), "a staff session ended at the identity provider");
                return session_problem(
                    StatusCode::UNAUTHORIZED,
                    "session_ended",
                    "the session has ended at the identity provider; sign in again",
                    true,
                    secure,
                );
            }
        }
    }
    let lifetime = signin.settings.staff_token_lifetime_seconds;
    let request = AccessTokenRequest {
        subject: session.subject.clone(),
        role: session.role,
        organisation: session.organisation.clone(),
        languages: session.languages.clone(),
        rooms: Vec::new(),
        lifetime_seconds: lifetime,
    };
    let token = match issuer.issue_access(&request) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(error = err.code(), "issuing a staff token failed");
            return session_problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the token could not be issued",
                false,
                secure,
            );
        }
    };
    let mut response = Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "provider": provider.name(),
    }))
    .into_response();
    if let Some(Ok(sealed)) = renewed_cookie {
        let remaining = session.ends.saturating_sub(now);
        response.headers_mut().append(header::SET_COOKIE, cookie(SESSION_COOKIE, &sealed, remaining, secure));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /auth/signout`: ends the Silta session; the answer names where to
/// go next (the provider's end-session page, which comes back to
/// `/auth/signed-out`).
async fn signout(State(signin): State<Arc<Signin>>, headers: HeaderMap) -> Response {
    let secure = signin.secure();
    let session = open_session(&signin, &headers);
    let mut next = "/signin/?signed_out=1".to_owned();
    if let Some(session) = &session
        && let Ok(provider) = signin.provider(&session.provider)
    {
        if let Some(url) = provider.end_session_url().await {
            next = url;
        }
        tracing::info!(provider = %session.provider, "staff signed out");
    }
    let mut response = Json(serde_json::json!({ "next": next })).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie(SESSION_COOKIE, "", 0, secure));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
