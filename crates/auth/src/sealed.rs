//! Sealed values: small secrets a server hands a browser to hold (a
//! sign-in's state, a staff session) and reads back, unreadable and
//! unforgeable by the browser. AES-256-GCM with a key derived (HKDF-SHA256)
//! from the node's signing key and a purpose, so every node holding the
//! signing key opens what another sealed, and a value sealed for one
//! purpose opens for no other.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::keys::SigningKey;

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not base64url, too short, or altered: it was not sealed by this key
    /// for this purpose.
    #[error("the value is not sealed by this service")]
    Invalid,
    /// The system's random source failed.
    #[error("no randomness for a nonce")]
    Random,
}

/// Seals and opens values for one purpose.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

struct KeyLength;

impl aws_lc_rs::hkdf::KeyType for KeyLength {
    fn len(&self) -> usize {
        32
    }
}

impl Sealer {
    /// A sealer whose key is derived from `key` for `purpose`.
    pub fn derived(key: &SigningKey, purpose: &str) -> Self {
        let prk = Salt::new(HKDF_SHA256, b"silta sealed values v1").extract(key.secret_bytes());
        let mut bytes = [0u8; 32];
        let info = [purpose.as_bytes()];
        // 32 bytes is far below HKDF-SHA256's limit: expansion cannot fail.
        if let Ok(okm) = prk.expand(&info, KeyLength) {
            let _ = okm.fill(&mut bytes);
        }
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).unwrap_or_else(|_| unreachable!("32 bytes")));
        Self { key, random: SystemRandom::new() }
    }

    /// Seals `plain` into base64url text (cookie-safe).
    pub fn seal(&self, plain: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buffer = plain.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buffer)
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`Sealer::seal`] sealed.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| SealError::Invalid)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Invalid);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let body = &mut bytes[NONCE_LEN..];
        let plain = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), body)
            .map_err(|_| SealError::Invalid)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_for_their_purpose_only() {
        let key = SigningKey::generate("k1").expect("key");
        let login = Sealer::derived(&key, "login");
        let session = Sealer::derived(&key, "session");
        let sealed = login.seal(b"state and nonce").expect("sealed");
        assert_eq!(login.open(&sealed).expect("opens"), b"state and nonce");
        assert_eq!(session.open(&sealed), Err(SealError::Invalid), "another purpose's key");
        // Another node with the same key opens it.
        let again = Sealer::derived(&SigningKey::from_pkcs8_pem("k1", &key.to_pkcs8_pem()).expect("pem"), "login");
        assert_eq!(again.open(&sealed).expect("opens elsewhere"), b"state and nonce");
        // Another key does not; neither does an altered value or garbage.
        let other = Sealer::derived(&SigningKey::generate("k2").expect("key"), "login");
        assert_eq!(other.open(&sealed), Err(SealError::Invalid));
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(login.open(std::str::from_utf8(&altered).expect("ascii")), Err(SealError::Invalid));
        assert_eq!(login.open("not sealed!"), Err(SealError::Invalid));
        assert_eq!(login.open(""), Err(SealError::Invalid));
        // Two seals of one value differ (fresh nonces).
        assert_ne!(login.seal(b"x").expect("a"), login.seal(b"x").expect("b"));
    }
}
