//! The OpenAPI 3.1 document describes the API, and the committed copy in
//! `proto/openapi/booking.json` (what clients generate their types from)
//! equals the one served. Run with `SILTA_BLESS_SCHEMAS=1` to rewrite it
//! after a deliberate API change.

use silta_tests::booking::{Database, spawn_booking};

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = spawn_booking(Database::Sqlite).await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = reply.body["paths"].as_object().unwrap();
    // The on-demand queue is the signal service's; the booking service keeps
    // only its statistics.
    assert!(!paths.contains_key("/api/v1/queue"));
    for path in [
        "/api/v1/slots",
        "/api/v1/appointments",
        "/api/v1/appointments/{id}/cancel",
        "/api/v1/statistics",
        "/api/v1/feedback",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(reply.body["components"]["securitySchemes"]["bearer"].is_object());
    let committed_path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto/openapi/booking.json");
    let mut served = serde_json::to_string_pretty(&reply.body).expect("the document serialises");
    served.push('\n');
    if std::env::var_os("SILTA_BLESS_SCHEMAS").is_some() {
        std::fs::create_dir_all(committed_path.parent().unwrap()).expect("create proto/openapi");
        std::fs::write(&committed_path, &served).expect("write the OpenAPI document");
    }
    let committed = std::fs::read_to_string(&committed_path)
        .unwrap_or_else(|err| panic!("{} cannot be read: {err}", committed_path.display()));
    assert!(
        committed == served,
        "{} differs from the served document: run the booking tests with SILTA_BLESS_SCHEMAS=1",
        committed_path.display()
    );
}
