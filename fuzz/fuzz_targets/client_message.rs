//! The signal service's decoder of client WebSocket text frames.
//!
//! `connection.rs` hands every text frame to `peek_request_id` (when it
//! refuses one for rate or size) and to `decode_client_message`. A text
//! frame is UTF-8 (tungstenite checks that before the service sees it), so
//! bytes that are not UTF-8 are skipped. A message that decodes must encode
//! and decode to the same message, as `decode.rs`'s own property test says.

#![no_main]

use libfuzzer_sys::fuzz_target;
use silta_proto::v1::{decode_client_message, peek_request_id};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = peek_request_id(text);
    let Ok(message) = decode_client_message(text) else { return };
    // What the connection reads next from a decoded message.
    let _ = message.request_id();
    let _ = message.kind();
    let again = serde_json::to_string(&message).expect("a decoded message encodes");
    let decoded_again = decode_client_message(&again).expect("an encoded message decodes");
    assert_eq!(decoded_again, message, "a decoded message survives a round trip");
});
