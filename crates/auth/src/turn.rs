//! TURN credentials in coturn's REST-API scheme (`use-auth-secret`).
//!
//! The username is `expiry:id` and the password is the base64 HMAC-SHA1 of
//! the username keyed with the shared secret; coturn recomputes it, so no
//! state is shared. The id is a random participant id, never a person's.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use silta_proto::v1::signal::TurnCredentials;

/// Credentials for `id`, valid `ttl_seconds` from `now` (Unix seconds).
pub fn turn_credentials(
    shared_secret: &[u8],
    urls: &[String],
    ttl_seconds: u64,
    now: u64,
    id: &str,
) -> TurnCredentials {
    let username = format!("{}:{id}", now + ttl_seconds);
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, shared_secret);
    let credential = STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref());
    TurnCredentials { urls: urls.to_vec(), username, credential, ttl_seconds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_coturns_computation() {
        // Reference: printf '%s' '1700003600:p1' | openssl dgst -sha1 -hmac secret -binary | base64
        let creds = turn_credentials(b"secret", &["turn:127.0.0.1:3478".into()], 3600, 1_700_000_000, "p1");
        assert_eq!(creds.username, "1700003600:p1");
        assert_eq!(creds.credential, "F0RcR/rQXzxKdXe+9P8894s67yY=");
    }
}
