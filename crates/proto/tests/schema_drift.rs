//! The committed JSON Schemas in `proto/v1/` must equal the ones generated
//! from the Rust types. Run with `SILTA_BLESS_SCHEMAS=1` to rewrite them after
//! a deliberate protocol change.

use std::path::PathBuf;

use schemars::{JsonSchema, schema_for};
use silta_proto::v1::hub::{ConnectionDelivery, HubCall, HubCallResult, HubEnvelope, HubStep, JournalEntry};
use silta_proto::v1::media::{MediaReply, MediaRequest, NodeEvent, NodeStatus};
use silta_proto::v1::signal::{ClientMessage, ServerMessage};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/v1")
}

fn generated<T: JsonSchema>() -> String {
    let mut text = serde_json::to_string_pretty(&schema_for!(T)).expect("schema serialises");
    text.push('\n');
    text
}

fn check(file: &str, generated: String) -> Option<String> {
    let path = schema_dir().join(file);
    if std::env::var_os("SILTA_BLESS_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a schema has a folder")).expect("create the schema folder");
        std::fs::write(&path, &generated).expect("write schema");
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(committed) if committed == generated => None,
        Ok(_) => Some(format!("{} differs from the Rust types", path.display())),
        Err(err) => Some(format!("{} cannot be read: {err}", path.display())),
    }
}

#[test]
fn committed_schemas_match_the_types() {
    let drift: Vec<String> = [
        check("client-message.schema.json", generated::<ClientMessage>()),
        check("server-message.schema.json", generated::<ServerMessage>()),
        check("media-request.schema.json", generated::<MediaRequest>()),
        check("media-reply.schema.json", generated::<MediaReply>()),
        check("media-event.schema.json", generated::<NodeEvent>()),
        check("node-status.schema.json", generated::<NodeStatus>()),
        // The hub's inputs and steps stay inside the signal service (and
        // between its nodes): a folder of their own, so the browser's types
        // are not generated from them.
        check("hub/hub-envelope.schema.json", generated::<HubEnvelope>()),
        check("hub/hub-step.schema.json", generated::<HubStep>()),
        check("hub/journal-entry.schema.json", generated::<JournalEntry>()),
        check("hub/hub-call.schema.json", generated::<HubCall>()),
        check("hub/hub-call-result.schema.json", generated::<HubCallResult>()),
        check("hub/connection-delivery.schema.json", generated::<ConnectionDelivery>()),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        drift.is_empty(),
        "{}\nRegenerate with: SILTA_BLESS_SCHEMAS=1 cargo test -p silta-proto --test schema_drift",
        drift.join("\n")
    );
}

#[test]
fn every_message_type_is_in_the_schema_and_the_protocol_doc() {
    let doc = std::fs::read_to_string(schema_dir().join("../../docs/protocol.md")).expect("docs/protocol.md exists");
    let client = generated::<ClientMessage>();
    let server = generated::<ServerMessage>();
    for kind in ClientMessage::TYPES {
        assert!(client.contains(&format!("\"const\": \"{kind}\"")), "client schema lacks {kind}");
        assert!(doc.contains(&format!("### `{kind}`")), "docs/protocol.md lacks a section `### `{kind}``");
    }
    for kind in ServerMessage::TYPES {
        assert!(server.contains(&format!("\"const\": \"{kind}\"")), "server schema lacks {kind}");
        assert!(doc.contains(&format!("`{kind}`")), "docs/protocol.md does not mention `{kind}`");
    }
}
