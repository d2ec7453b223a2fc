//! Ed25519 signing and verification keys.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::error::KeyError;

const PEM_LABEL: &str = "PRIVATE KEY";

fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(KeyError::BadKeyId) }
}

/// A private Ed25519 key with its key id. Never logged: `Debug` shows only
/// the key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key.
    pub fn generate(kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(kid, document.as_ref())
    }

    /// The private key's bytes, to derive other secrets from (see
    /// [`crate::Sealer`]); never to be sent or logged.
    pub(crate) fn secret_bytes(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Loads a key from PKCS#8 DER.
    pub fn from_pkcs8_der(kid: impl Into<String>, der: &[u8]) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|err| KeyError::InvalidPrivateKey(err.to_string()))?;
        // Store the v1 document, which every PKCS#8 reader accepts.
        let pkcs8 = pair.to_pkcs8v1().map_err(|err| KeyError::InvalidPrivateKey(err.to_string()))?.as_ref().to_vec();
        Ok(Self { kid, pkcs8, public: pair.public_key().as_ref().to_vec() })
    }

    /// Loads a key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, KeyError> {
        let body: String =
            pem.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("-----")).collect();
        if !pem.contains(&format!("-----BEGIN {PEM_LABEL}-----")) {
            return Err(KeyError::InvalidPrivateKey(format!("expected a `BEGIN {PEM_LABEL}` PEM block")));
        }
        let der = STANDARD.decode(body).map_err(|err| KeyError::InvalidPrivateKey(err.to_string()))?;
        Self::from_pkcs8_der(kid, &der)
    }

    /// The key as a PKCS#8 PEM document, for writing to a key file.
    pub fn to_pkcs8_pem(&self) -> String {
        let encoded = STANDARD.encode(&self.pkcs8);
        let mut pem = format!("-----BEGIN {PEM_LABEL}-----\n");
        for chunk in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str(&format!("-----END {PEM_LABEL}-----\n"));
        pem
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching verification key.
    pub fn verification_key(&self) -> VerificationKey {
        VerificationKey { kid: self.kid.clone(), x: URL_SAFE_NO_PAD.encode(&self.public) }
    }

    pub(crate) fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_ed_der(&self.pkcs8)
    }
}

/// A public Ed25519 key as in a JWK: the key id and the base64url `x`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerificationKey {
    /// Key id.
    pub kid: String,
    /// The raw 32-byte public key, base64url without padding.
    pub x: String,
}

impl VerificationKey {
    /// Parses and checks a key.
    pub fn parse(kid: impl Into<String>, x: impl Into<String>) -> Result<Self, KeyError> {
        let key = Self { kid: kid.into(), x: x.into() };
        check_kid(&key.kid)?;
        key.decoding_key()?;
        Ok(key)
    }

    pub(crate) fn decoding_key(&self) -> Result<DecodingKey, KeyError> {
        let raw = URL_SAFE_NO_PAD.decode(&self.x).map_err(|err| KeyError::InvalidPublicKey(err.to_string()))?;
        if raw.len() != 32 {
            return Err(KeyError::InvalidPublicKey(format!("expected 32 bytes, got {}", raw.len())));
        }
        DecodingKey::from_ed_components(&self.x).map_err(|err| KeyError::InvalidPublicKey(err.to_string()))
    }

    /// The key as a JWK (for a `/.well-known/jwks.json` document).
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self.kid, "x": self.x})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key() {
        let key = SigningKey::generate("k1").unwrap();
        let again = SigningKey::from_pkcs8_pem("k1", &key.to_pkcs8_pem()).unwrap();
        assert_eq!(key.verification_key(), again.verification_key());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(SigningKey::generate("").unwrap_err(), KeyError::BadKeyId);
        assert!(SigningKey::from_pkcs8_pem("k", "not a key").is_err());
        assert!(VerificationKey::parse("k", "AAAA").is_err());
    }
}
