//! One identity provider as the `openidconnect` library sees it: its
//! discovered metadata and keys (read when first needed, read again after
//! an hour or when a token names a key not known yet), the authorization
//! request, the code exchange with ID-token verification, the refresh.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse,
};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::SigninError;
use super::settings::OidcProvider;

/// Metadata and keys are read again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The most an identity provider's answer may weigh.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// The HTTP client for identity providers: no redirects followed (the
/// library's advice), bounded time.
pub(super) fn http_client() -> Result<Arc<Http>, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| format!("cannot build the identity providers' HTTP client: {err}"))?;
    Ok(Arc::new(Http(client)))
}

/// An HTTP failure talking to a provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The providers' HTTP client as the library calls it.
pub(super) struct Http(pub(super) reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request).map_err(|err| HttpError(err.to_string()))?;
    let mut response = http.execute(request).await.map_err(|err| HttpError(err.to_string()))?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| HttpError(err.to_string()))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpError("the identity provider's answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|err| HttpError(err.to_string()))
}

/// A started sign-in: where to send the browser and what to remember.
pub struct Started {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// A verified sign-in: the ID token's claims and the refresh token.
pub struct Verified {
    pub claims: Map<String, Value>,
    pub refresh_token: Option<String>,
}

/// A refresh's outcome: claims when a new ID token came with it.
pub struct Refreshed {
    pub claims: Option<Map<String, Value>>,
    pub refresh_token: Option<String>,
}

/// One configured provider.
pub struct ProviderClient {
    settings: OidcProvider,
    secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    post_logout: Option<PostLogoutRedirectUrl>,
    http: Arc<Http>,
    metadata: Mutex<Option<(Instant, ProviderMetadataWithLogout)>>,
}

impl ProviderClient {
    /// A provider whose people come back to `public_url`.
    pub(super) fn new(settings: OidcProvider, public_url: &str, http: Arc<Http>) -> Result<Self, String> {
        let secret = match (&settings.client_secret, &settings.client_secret_file) {
            (Some(secret), _) => Some(ClientSecret::new(secret.clone())),
            (None, Some(path)) => {
                let secret = std::fs::read_to_string(path).map_err(|err| {
                    format!("[[auth.oidc]] {}: cannot read client_secret_file {}: {err}", settings.id, path.display())
                })?;
                Some(ClientSecret::new(secret.trim().to_owned()))
            }
            (None, None) => None,
        };
        let redirect = RedirectUrl::new(format!("{public_url}/auth/oidc/{}/callback", settings.id))
            .map_err(|err| format!("auth.public_url: {err}"))?;
        let post_logout = PostLogoutRedirectUrl::new(format!("{public_url}/auth/signed-out")).ok();
        Ok(Self { settings, secret, redirect, post_logout, http, metadata: Mutex::new(None) })
    }

    /// The id in URLs.
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// The name on the sign-in button.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The provider's settings.
    pub fn settings(&self) -> &OidcProvider {
        &self.settings
    }

    async fn metadata(&self, again: bool) -> Result<ProviderMetadataWithLogout, SigninError> {
        let mut cached = self.metadata.lock().await;
        if let Some((read, metadata)) = cached.as_ref()
            && !again
            && read.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|_| SigninError::ProviderUnreachable)?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, self.http.as_ref()).await.map_err(|err| {
            tracing::warn!(provider = %self.settings.id, error = %err, "the identity provider's metadata cannot be read");
            SigninError::ProviderUnreachable
        })?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: ProviderMetadataWithLogout) -> Client {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// The authorization request: PKCE (S256), a fresh state and nonce.
    pub(super) async fn start(&self) -> Result<Started, SigninError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|scope| scope.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID
    /// token against the nonce; a signature by a key not known yet reads
    /// the provider's keys again once.
    pub(super) async fn exchange(&self, code: &str, verifier: &str, nonce: &str) -> Result<Verified, SigninError> {
        let client = self.client(self.metadata(false).await?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| SigninError::ProviderUnreachable)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(self.http.as_ref())
            .await
            .map_err(token_error)?;
        let id_token = response.id_token().ok_or(SigninError::IdTokenMissing)?;
        let nonce = Nonce::new(nonce.to_owned());
        let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(self.metadata(true).await?);
                id_token.claims(&client.id_token_verifier(), &nonce).map(|_| ())
            }
            other => other.map(|_| ()),
        };
        verified.map_err(claims_error)?;
        Ok(Verified {
            claims: raw_claims(id_token)?,
            refresh_token: response.refresh_token().map(|token| token.secret().clone()),
        })
    }

    /// Asks the provider whether the session stands: a refresh-token grant.
    pub(super) async fn refresh(&self, refresh_token: &str) -> Result<Refreshed, SigninError> {
        let client = self.client(self.metadata(false).await?);
        let token = RefreshToken::new(refresh_token.to_owned());
        let response = client
            .exchange_refresh_token(&token)
            .map_err(|_| SigninError::ProviderUnreachable)?
            .request_async(self.http.as_ref())
            .await
            .map_err(token_error)?;
        let claims = match response.id_token() {
            Some(id_token) => {
                // A refreshed ID token carries no nonce (OpenID Connect
                // Core 12.2); everything else is checked.
                let no_nonce = |_: Option<&Nonce>| Ok::<(), String>(());
                id_token.claims(&client.id_token_verifier(), no_nonce).map_err(claims_error)?;
                Some(raw_claims(id_token)?)
            }
            None => None,
        };
        Ok(Refreshed { claims, refresh_token: response.refresh_token().map(|token| token.secret().clone()) })
    }

    /// The provider's end-session page, coming back to Silta afterwards.
    pub(super) async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let end = metadata.additional_metadata().end_session_endpoint.clone()?;
        let mut request = LogoutRequest::from(end).set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Some(back) = &self.post_logout {
            request = request.set_post_logout_redirect_uri(back.clone());
        }
        Some(request.http_get_url().to_string())
    }
}

/// The verified token's claims as JSON, for the claim mapping (custom
/// claims such as roles or groups).
fn raw_claims(id_token: &CoreIdToken) -> Result<Map<String, Value>, SigninError> {
    let compact = id_token.to_string();
    let payload = compact.split('.').nth(1).ok_or(SigninError::IdTokenInvalid)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SigninError::IdTokenInvalid)?;
    serde_json::from_slice(&bytes).map_err(|_| SigninError::IdTokenInvalid)
}

fn token_error<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse>(
    err: RequestTokenError<RE, T>,
) -> SigninError {
    match err {
        RequestTokenError::ServerResponse(_) => SigninError::CodeRejected,
        RequestTokenError::Parse(_, _) => SigninError::IdTokenInvalid,
        RequestTokenError::Request(_) | RequestTokenError::Other(_) => SigninError::ProviderUnreachable,
    }
}

fn claims_error(err: ClaimsVerificationError) -> SigninError {
    match err {
        ClaimsVerificationError::InvalidIssuer(_) => SigninError::WrongIssuer,
        ClaimsVerificationError::InvalidAudience(_) => SigninError::WrongAudience,
        ClaimsVerificationError::InvalidNonce(_) => SigninError::NonceMismatch,
        ClaimsVerificationError::SignatureVerification(_) => SigninError::BadSignature,
        ClaimsVerificationError::Expired(_) => SigninError::TokenExpired,
        _ => SigninError::IdTokenInvalid,
    }
}
