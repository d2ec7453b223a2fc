//! Request rate limits at the HTTP edge, per client address and per
//! identity, with a maintained middleware (`tower_governor`, governor's
//! GCRA). A refusal is 429 problem+json (`rate_limited`) with `Retry-After`.
//!
//! The client address is the TCP peer's, or — when the peer is a trusted
//! proxy (`trusted_proxies`) — the nearest `X-Forwarded-For` hop that is
//! not one. The identity is whatever the service put in the request's
//! [`Requester`] extension after verifying its credential (a signed token's
//! subject, never an unverified claim); a request without one is counted
//! by its address again.

use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use governor::middleware::NoOpMiddleware;
use serde::{Deserialize, Serialize};
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::tls::Peer;

/// Request rates allowed at one HTTP edge (`[signal.request_limits]`,
/// `[booking.request_limits]`). A bucket holds `*_burst` requests and
/// refills at `*_per_second`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestLimits {
    /// Sustained requests per second from one client address. A service
    /// point's or an office's staff often share one address: keep it well
    /// above what one person does.
    pub per_address_per_second: u32,
    /// Requests one address may make at once above the sustained rate.
    pub per_address_burst: u32,
    /// Sustained requests per second of one identity (a token's subject).
    pub per_identity_per_second: u32,
    /// Requests one identity may make at once above the sustained rate.
    pub per_identity_burst: u32,
    /// Proxies in front of the service whose `X-Forwarded-For` is believed:
    /// addresses or CIDR ranges (`"127.0.0.1"`, `"10.0.0.0/8"`). Empty: the
    /// TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            per_address_per_second: 50,
            per_address_burst: 200,
            per_identity_per_second: 20,
            per_identity_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A rate or burst of zero would refuse everything.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A trusted proxy that is neither an address nor a CIDR range.
    #[error("trusted_proxies: `{0}` is not an IP address or CIDR range (e.g. 10.0.0.0/8)")]
    Proxy(String),
}

impl RequestLimits {
    /// Checks the settings: every rate and burst at least 1, every trusted
    /// proxy an address or range. Services refuse to start otherwise.
    pub fn validate(&self) -> Result<(), LimitsError> {
        for (name, value) in [
            ("per_address_per_second", self.per_address_per_second),
            ("per_address_burst", self.per_address_burst),
            ("per_identity_per_second", self.per_identity_per_second),
            ("per_identity_burst", self.per_identity_burst),
        ] {
            if value == 0 {
                return Err(LimitsError::Zero(name));
            }
        }
        match self.trusted_proxies.iter().find(|text| Cidr::parse(text).is_none()) {
            Some(bad) => Err(LimitsError::Proxy(bad.clone())),
            None => Ok(()),
        }
    }
}

/// [`RequestLimits`] ready to apply (what [`RequestLimits::validate`]
/// refuses is clamped here: a zero to 1, an unreadable proxy left out).
#[derive(Debug, Clone)]
pub struct Limits {
    settings: RequestLimits,
    proxies: Arc<[Cidr]>,
}

impl Limits {
    /// The limits of `settings`.
    pub fn new(settings: &RequestLimits) -> Self {
        let proxies = settings.trusted_proxies.iter().filter_map(|text| Cidr::parse(text)).collect();
        Self { settings: settings.clone(), proxies }
    }
}

impl Limits {
    /// Limits every route of `router`: per client address first, then per
    /// identity. `identify` wraps the routes between the two (e.g. with an
    /// `axum::middleware::from_fn` that verifies the token and inserts a
    /// [`Requester`]). Idle buckets are swept every minute while the router
    /// lives.
    pub fn apply<S: Clone + Send + Sync + 'static>(
        &self,
        router: Router<S>,
        identify: impl FnOnce(Router<S>) -> Router<S>,
    ) -> Router<S> {
        let settings = &self.settings;
        let address = ClientAddress(self.proxies.clone());
        let mut router = router;
        if let Some(config) =
            governor(settings.per_identity_per_second, settings.per_identity_burst, ByIdentity(address.clone()))
        {
            router = router.layer(layer(&config));
        }
        router = identify(router);
        if let Some(config) = governor(settings.per_address_per_second, settings.per_address_burst, address) {
            router = router.layer(layer(&config));
        }
        router
    }
}

type Config<K> = GovernorConfig<K, NoOpMiddleware>;

/// The limiter of one key (`None` only for a zero burst, which
/// [`RequestLimits::validate`] refuses).
fn governor<K: KeyExtractor + Send + Sync + 'static>(per_second: u32, burst: u32, key: K) -> Option<Arc<Config<K>>>
where
    K::Key: Send + Sync,
{
    let period = Duration::from_secs(1) / per_second.max(1);
    let builder = GovernorConfigBuilder::default().period(period).burst_size(burst.max(1)).key_extractor(key).finish();
    let config = Arc::new(builder?);
    sweep_idle_buckets(Arc::downgrade(&config));
    Some(config)
}

/// Forgets buckets that have refilled (their clients went quiet), so the
/// limiter's memory follows the clients of the last minute, not of all time.
fn sweep_idle_buckets<K: KeyExtractor + Send + Sync + 'static>(config: Weak<Config<K>>)
where
    K::Key: Send + Sync,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let Some(config) = config.upgrade() else { return };
            config.limiter().retain_recent();
            config.limiter().shrink_to_fit();
        }
    });
}

fn layer<K: KeyExtractor>(config: &Arc<Config<K>>) -> GovernorLayer<K, NoOpMiddleware, axum::body::Body> {
    GovernorLayer::new(config.clone()).error_handler(refusal)
}

/// 429 problem+json with `Retry-After` (whole seconds, at least 1).
fn refusal(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let mut response =
                crate::problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; try again later");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_time.max(1)));
            response
        }
        // The extractors below always find a key.
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            crate::problem(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request could not be handled")
        }
    }
}

/// Who made a request, as the service verified it (a token's subject): put
/// it in the request's extensions before the per-identity limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requester(pub String);

/// An address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address.parse::<IpAddr>().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { network: address, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        let (network, address, bits) = match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                (u128::from(network.to_bits()), u128::from(address.to_bits()), 32)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => (network.to_bits(), address.to_bits(), 128),
            _ => return false,
        };
        let host_bits = bits - u32::from(self.prefix);
        host_bits >= bits || network >> host_bits == address >> host_bits
    }
}

/// Keys a request by its client address.
#[derive(Debug, Clone)]
struct ClientAddress(Arc<[Cidr]>);

impl ClientAddress {
    fn of<T>(&self, request: &Request<T>) -> IpAddr {
        // Requests served in-process (tests, `oneshot`) have no peer.
        let Some(ConnectInfo(Peer(peer))) = request.extensions().get::<ConnectInfo<Peer>>() else {
            return IpAddr::from([0, 0, 0, 0]);
        };
        let mut client = peer.ip().to_canonical();
        let trusted = |address: IpAddr| self.0.iter().any(|range| range.contains(address));
        if !trusted(client) {
            return client;
        }
        // Right to left: each hop was added by the proxy to its right.
        let hops: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Ok(hop) = hop.trim().parse::<IpAddr>() else { break };
            client = hop.to_canonical();
            if !trusted(client) {
                break;
            }
        }
        client
    }
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(self.of(request))
    }
}

/// A per-identity key: the verified requester, or the address of a request
/// that has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum IdentityKey {
    Requester(String),
    Address(IpAddr),
}

#[derive(Debug, Clone)]
struct ByIdentity(ClientAddress);

impl KeyExtractor for ByIdentity {
    type Key = IdentityKey;

    fn extract<T>(&self, request: &Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(match request.extensions().get::<Requester>() {
            Some(Requester(subject)) => IdentityKey::Requester(subject.clone()),
            None => IdentityKey::Address(self.0.of(request)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn request_from(peer: &str, forwarded: &[&str]) -> Request<()> {
        let mut request = Request::new(());
        request.extensions_mut().insert(ConnectInfo(Peer(SocketAddr::new(peer.parse().unwrap(), 40000))));
        for value in forwarded {
            request.headers_mut().append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        request
    }

    fn address(trusted: &[&str], peer: &str, forwarded: &[&str]) -> String {
        let ranges: Arc<[Cidr]> = trusted.iter().map(|text| Cidr::parse(text).unwrap()).collect();
        ClientAddress(ranges).of(&request_from(peer, forwarded)).to_string()
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        assert_eq!(address(&[], "203.0.113.7", &["198.51.100.1"]), "203.0.113.7", "forwarded headers are not believed");
        assert_eq!(address(&["127.0.0.1"], "127.0.0.1", &["198.51.100.1"]), "198.51.100.1");
        // A client cannot hide behind a hop it wrote itself.
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["192.0.2.66, 198.51.100.1, 10.9.9.9"]), "198.51.100.1");
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["198.51.100.1", "10.9.9.9"]), "198.51.100.1", "header lines");
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["garbage"]), "10.1.2.3", "an unreadable hop stops the walk");
        assert_eq!(address(&["::1"], "::ffff:127.0.0.1", &[]), "127.0.0.1", "mapped addresses are IPv4");
        assert_eq!(address(&["2001:db8::/32"], "2001:db8::5", &["2001:db9::1"]), "2001:db9::1");
    }

    #[test]
    fn ranges_parse_and_match() {
        for bad in ["", "10.0.0.0/33", "::/129", "localhost", "10.0.0/8"] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        let range = Cidr::parse("192.168.0.0/16").unwrap();
        assert!(range.contains("192.168.44.1".parse().unwrap()));
        assert!(!range.contains("192.169.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains("::2".parse().unwrap()));
    }

    #[test]
    fn unusable_settings_are_refused_by_name() {
        let zero = RequestLimits { per_identity_burst: 0, ..RequestLimits::default() };
        assert_eq!(zero.validate().unwrap_err().to_string(), "per_identity_burst must be at least 1");
        let proxy = RequestLimits { trusted_proxies: vec!["nginx".into()], ..RequestLimits::default() };
        assert!(proxy.validate().unwrap_err().to_string().contains("`nginx` is not an IP address"));
        assert!(RequestLimits::default().validate().is_ok());
    }
}
