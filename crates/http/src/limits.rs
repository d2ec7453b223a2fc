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

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use governor::RateLimiter;
use governor::clock::DefaultClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
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

/// The largest rate or burst (a period of a microsecond).
const MAX_RATE: u32 = 1_000_000;

/// Settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A rate or burst of zero would refuse everything.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// A rate or burst over a million (no limit at all: leave it high).
    #[error("{0} must be at most 1000000")]
    TooHigh(&'static str),
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
            if value > MAX_RATE {
                return Err(LimitsError::TooHigh(name));
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
    let period = Duration::from_secs(1) / per_second.clamp(1, MAX_RATE);
    let builder = GovernorConfigBuilder::default().period(period).burst_size(burst.max(1)).key_extractor(key).finish();
    let config = Arc::new(builder?);
    sweep_idle_buckets(Arc::downgrade(config.limiter()));
    Some(config)
}

/// Forgets buckets that have refilled (their clients went quiet), so the
/// limiter's memory follows the clients of the last minute, not of all
/// time. The routes' services hold the limiter; the sweep ends with them.
fn sweep_idle_buckets<Key>(limiter: Weak<KeyedLimiter<Key>>)
where
    Key: Clone + Hash + Eq + Send + Sync + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(SWEEP_INTERVAL);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limiter) = limiter.upgrade() else { return };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// How often idle buckets are forgotten.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

type KeyedLimiter<Key> = RateLimiter<Key, DefaultKeyedStateStore<Key>, DefaultClock, NoOpMiddleware>;

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
            let Some(hop) = hop_address(hop) else { break };
            client = hop.to_canonical();
            if !trusted(client) {
                break;
            }
        }
        client
    }

    /// The bucket of an address: an IPv4 address, or an IPv6 address's /64
    /// (one customer's network: it could otherwise take a fresh address for
    /// every request).
    fn bucket(address: IpAddr) -> IpAddr {
        match address {
            IpAddr::V4(_) => address,
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        }
    }
}

/// An `X-Forwarded-For` hop: an address, or an address with a port as some
/// load balancers write it (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|with_port| with_port.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(Self::bucket(self.of(request)))
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
            None => IdentityKey::Address(ClientAddress::bucket(self.0.of(request))),
        })
    }
}

#[cfg(test)]
mod tests {
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
        // Hops with ports, as some load balancers write them.
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["198.51.100.1:4711"]), "198.51.100.1");
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["[2001:db9::1]:4711"]), "2001:db9::1");
        assert_eq!(address(&["10.0.0.0/8"], "10.1.2.3", &["[2001:db9::1]"]), "2001:db9::1");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_network() {
        let bucket = |text: &str| ClientAddress::bucket(text.parse().unwrap()).to_string();
        assert_eq!(bucket("2001:db8:1:2:aaaa::1"), bucket("2001:db8:1:2:bbbb::9"));
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
        assert_eq!(bucket("203.0.113.7"), "203.0.113.7");
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
        let unlimited = RequestLimits { per_address_per_second: 2_000_000_000, ..RequestLimits::default() };
        assert_eq!(unlimited.validate().unwrap_err().to_string(), "per_address_per_second must be at most 1000000");
        assert!(RequestLimits::default().validate().is_ok());
    }
}
