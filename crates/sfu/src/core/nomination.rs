//! The first check nominates. The node is an ICE-lite agent, and str0m's
//! agent sends nothing to a peer — its DTLS flight included — until the
//! peer nominates a candidate pair (USE-CANDIDATE). Chromium, controlling,
//! nominates only on the check after its first one succeeds, about 50 ms
//! later: the browser's DTLS ClientHello waits at the node all that time, and
//! the handshake then takes ~2 ms (docs/benchmarks.md, the join).
//!
//! So while a peer's ICE is still checking, an authentic binding request
//! (its MESSAGE-INTEGRITY verified with the node's own password, its
//! USERNAME naming this peer's session, ICE-CONTROLLING set) is passed to
//! str0m as if it carried USE-CANDIDATE: rebuilt with the same transaction,
//! priority and tie-breaker and signed again. This is what an ICE-lite
//! agent does anyway with the controlling side's nomination; it grants no
//! one more than the peer itself could ask for. Once the peer is connected
//! (and after a disconnection) the browser's own nominations decide again.
//! The STUN parsing and signing are str0m's own (`str0m::ice`, its ICE
//! crate `is` re-exported), so the request str0m reads is one it built.

use str0m::ice::StunMessage;

/// The largest binding request rebuilt (the browser's are ~100 bytes).
pub(super) const MAX_REQUEST: usize = 512;

/// Whether `contents` looks like a STUN binding request (its header only).
pub(super) fn is_binding_request(contents: &[u8]) -> bool {
    (20..=MAX_REQUEST).contains(&contents.len())
        && contents[..2] == [0x00, 0x01]
        && contents[4..8] == [0x21, 0x12, 0xa4, 0x42]
}

/// `contents` as a nominating binding request, written to `out`, with its
/// length; None when it is not an authentic binding request of the
/// session `ufrag`/`password` that lacks USE-CANDIDATE.
pub(super) fn as_nomination(
    contents: &[u8],
    ufrag: &str,
    password: &str,
    out: &mut [u8; MAX_REQUEST],
) -> Option<usize> {
    if !is_binding_request(contents) {
        return None;
    }
    let message = StunMessage::parse(contents).ok()?;
    if !message.is_binding_request() || message.use_candidate() {
        return None;
    }
    let username = message.username()?;
    let (local, _) = username.split_once(':')?;
    let (tie_breaker, priority) = (message.ice_controlling()?, message.prio()?);
    if local != ufrag || !message.verify(password.as_bytes(), sha1_hmac) {
        return None;
    }
    let nominating = StunMessage::binding_request(username, message.trans_id(), true, tie_breaker, priority, true);
    nominating.to_bytes(Some(password.as_bytes()), out, sha1_hmac).ok()
}

/// HMAC-SHA1 over `parts` (STUN's MESSAGE-INTEGRITY).
pub(super) fn sha1_hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    let mut tag = [0; 20];
    tag.copy_from_slice(context.sign().as_ref());
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::ice::TransId;

    fn request(username: &str, password: &str, use_candidate: bool) -> Vec<u8> {
        let message = StunMessage::binding_request(username, TransId::new(), true, 7, 1_000, use_candidate);
        let mut out = [0; MAX_REQUEST];
        let length = message.to_bytes(Some(password.as_bytes()), &mut out, sha1_hmac).unwrap();
        out[..length].to_vec()
    }

    #[test]
    fn an_authentic_check_becomes_a_nomination_signed_again() {
        let original = request("node:browser", "secret-password-of-22", false);
        let mut out = [0; MAX_REQUEST];
        let length = as_nomination(&original, "node", "secret-password-of-22", &mut out).expect("rebuilt");
        let rebuilt = StunMessage::parse(&out[..length]).unwrap();
        assert!(rebuilt.is_binding_request() && rebuilt.use_candidate());
        assert!(rebuilt.verify(b"secret-password-of-22", sha1_hmac), "signed with the node's password");
        let original = StunMessage::parse(&original).unwrap();
        assert_eq!(rebuilt.trans_id(), original.trans_id());
        assert_eq!(rebuilt.username(), Some("node:browser"));
        assert_eq!((rebuilt.prio(), rebuilt.ice_controlling()), (Some(1_000), Some(7)));
    }

    #[test]
    fn anything_else_is_passed_as_it_came() {
        let mut out = [0; MAX_REQUEST];
        // Forged (another password), for another session, already nominating.
        for (username, password, use_candidate) in [
            ("node:browser", "a-guessed-password-xx", false),
            ("other:browser", "secret-password-of-22", false),
            ("node:browser", "secret-password-of-22", true),
        ] {
            let check = request(username, password, use_candidate);
            assert_eq!(as_nomination(&check, "node", "secret-password-of-22", &mut out), None, "{username} {password}");
        }
        // Not STUN at all: DTLS, RTP, short, long, garbage.
        for bytes in [
            &[22u8, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x80; 40],
            &[0; 3],
            &[0; 600],
            b"\x00\x01\x00\x04\x21\x12\xa4\x42garbagegarbage",
        ] {
            assert_eq!(as_nomination(bytes, "node", "secret-password-of-22", &mut out), None);
        }
    }
}
