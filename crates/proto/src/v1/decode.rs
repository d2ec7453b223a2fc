//! Decoding client messages with errors a client can act on.
//!
//! `serde_json` alone says *that* a message is bad; a client needs to know
//! *which* way (not JSON, an unknown type, a bad field) and which request it
//! was, so the reply can echo the id.

use serde::Deserialize;

use super::RequestId;
use super::signal::{
    ClientMessage, ErrorCode, IceCandidateMessage, MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, MAX_TOKEN_BYTES,
    ProbeCandidateMessage,
};

/// Why a client message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The request id, when the message had a readable one.
    pub id: Option<RequestId>,
    /// The stable error code.
    pub code: ErrorCode,
    /// What was wrong, for people.
    pub message: String,
}

/// Reads just the `id` of a message that failed to decode otherwise.
pub fn peek_request_id(text: &str) -> Option<RequestId> {
    #[derive(Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    let peeked: IdOnly = serde_json::from_str(text).ok()?;
    match peeked.id? {
        serde_json::Value::String(id) => RequestId::parse(id).ok(),
        _ => None,
    }
}

/// Decodes one client message from a text frame.
pub fn decode_client_message(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| DecodeError {
        id: None,
        code: ErrorCode::InvalidJson,
        message: format!("not valid JSON: {err}"),
    })?;
    let id = value.get("id").and_then(|id| id.as_str()).and_then(|id| RequestId::parse(id).ok());
    let Some(object) = value.as_object() else {
        return Err(DecodeError {
            id,
            code: ErrorCode::InvalidMessage,
            message: "a message must be a JSON object".into(),
        });
    };
    let Some(kind) = object.get("type").and_then(|kind| kind.as_str()) else {
        return Err(DecodeError {
            id,
            code: ErrorCode::InvalidMessage,
            message: "a message needs a string field `type`".into(),
        });
    };
    let kind = kind.to_owned();
    if !ClientMessage::TYPES.contains(&kind.as_str()) {
        // Echo at most a short prefix of what the client sent.
        let shown: String = kind.chars().take(40).collect();
        return Err(DecodeError {
            id,
            code: ErrorCode::UnknownType,
            message: format!("unknown message type `{shown}`"),
        });
    }
    let message: ClientMessage = serde_json::from_value(value).map_err(|err| DecodeError {
        id: id.clone(),
        code: ErrorCode::InvalidField,
        message: format!("invalid `{kind}` message: {err}"),
    })?;
    check_sizes(&message).map_err(|message| DecodeError { id, code: ErrorCode::InvalidField, message })?;
    Ok(message)
}

/// Bounds that JSON Schema states but serde does not enforce.
fn check_sizes(message: &ClientMessage) -> Result<(), String> {
    fn at_most(field: &str, value: &str, max: usize) -> Result<(), String> {
        if value.len() > max { Err(format!("`{field}` is longer than {max} bytes")) } else { Ok(()) }
    }
    match message {
        ClientMessage::Auth(auth) => {
            at_most("token", &auth.token, MAX_TOKEN_BYTES)?;
            if let Some(resume) = &auth.resume_token {
                at_most("resume_token", resume, 256)?;
            }
            Ok(())
        }
        ClientMessage::SdpOffer(sdp) | ClientMessage::SdpAnswer(sdp) => at_most("sdp", &sdp.sdp, MAX_SDP_BYTES),
        ClientMessage::ProbeOffer(offer) => at_most("sdp", &offer.sdp, MAX_SDP_BYTES),
        ClientMessage::IceCandidate(IceCandidateMessage { candidate, .. })
        | ClientMessage::ProbeCandidate(ProbeCandidateMessage { candidate, .. }) => {
            at_most("candidate", &candidate.candidate, MAX_CANDIDATE_BYTES)?;
            if let Some(mid) = &candidate.sdp_mid {
                at_most("sdp_mid", mid, 64)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classifies_each_kind_of_bad_input() {
        let cases = [
            ("{", ErrorCode::InvalidJson, None),
            ("[1,2]", ErrorCode::InvalidMessage, None),
            (r#"{"id":"r1"}"#, ErrorCode::InvalidMessage, Some("r1")),
            (r#"{"id":"r2","type":"fly"}"#, ErrorCode::UnknownType, Some("r2")),
            (r#"{"id":"r3","type":"join"}"#, ErrorCode::InvalidField, Some("r3")),
            (r#"{"id":"r4","type":"join","room":"bad room"}"#, ErrorCode::InvalidField, Some("r4")),
            (r#"{"type":"join","room":"r"}"#, ErrorCode::InvalidField, None),
        ];
        for (text, code, id) in cases {
            let err = decode_client_message(text).unwrap_err();
            assert_eq!(err.code, code, "{text}");
            assert_eq!(err.id.as_ref().map(|id| id.as_str()), id, "{text}");
        }
    }

    #[test]
    fn oversized_sdp_is_refused_with_its_id() {
        let sdp = "v=0\r\n".repeat(MAX_SDP_BYTES);
        let text = serde_json::json!({"type":"sdp_offer","id":"o1","room":"r","sdp":sdp}).to_string();
        let err = decode_client_message(&text).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField);
        assert_eq!(err.id.unwrap().as_str(), "o1");
    }

    #[test]
    fn oversized_probe_offers_and_candidates_are_refused() {
        let sdp = "v=0\r\n".repeat(MAX_SDP_BYTES);
        let offer = serde_json::json!({"type":"probe_offer","id":"p1","path":"udp","sdp":sdp}).to_string();
        assert_eq!(decode_client_message(&offer).unwrap_err().code, ErrorCode::InvalidField);
        let line = "a".repeat(MAX_CANDIDATE_BYTES + 1);
        let candidate =
            serde_json::json!({"type":"probe_candidate","id":"p2","path":"turn_tls","candidate":{"candidate":line}});
        assert_eq!(decode_client_message(&candidate.to_string()).unwrap_err().code, ErrorCode::InvalidField);
        let mid = serde_json::json!({"type":"probe_candidate","id":"p3","path":"udp","candidate":{"candidate":"c","sdp_mid":"m".repeat(65)}});
        assert_eq!(decode_client_message(&mid.to_string()).unwrap_err().code, ErrorCode::InvalidField);
    }

    #[test]
    fn decodes_a_join() {
        let message = decode_client_message(r#"{"type":"join","id":"j1","room":"room-7"}"#).unwrap();
        assert_eq!(message.request_id().as_str(), "j1");
        assert!(matches!(message, ClientMessage::Join(_)));
    }

    /// JSON values of any shape, a few levels deep.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            ".{0,20}".prop_map(serde_json::Value::String),
            prop::sample::select(ClientMessage::TYPES).prop_map(|t| serde_json::json!(t)),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("type".to_string()),
                        Just("id".to_string()),
                        Just("room".to_string()),
                        Just("target".to_string()),
                        Just("by".to_string()),
                        "[a-z_]{1,10}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = decode_client_message(&text);
            let _ = peek_request_id(&text);
        }

        #[test]
        fn random_json_is_decoded_or_refused_with_a_code(value in any_json()) {
            let text = value.to_string();
            match decode_client_message(&text) {
                Ok(message) => {
                    // Whatever decodes must re-encode and decode to the same.
                    let again = serde_json::to_string(&message).unwrap();
                    prop_assert_eq!(decode_client_message(&again).unwrap(), message);
                }
                Err(err) => prop_assert!(!err.message.is_empty()),
            }
        }
    }
}
