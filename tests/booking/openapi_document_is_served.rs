//! The OpenAPI 3.1 document describes the API.

use silta_tests::booking::{Database, spawn_booking};

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = spawn_booking(Database::Sqlite).await;
    let reply = app.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = reply.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/slots",
        "/api/v1/appointments",
        "/api/v1/appointments/{id}/cancel",
        "/api/v1/queue",
        "/api/v1/statistics",
        "/api/v1/feedback",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(reply.body["components"]["securitySchemes"]["bearer"].is_object());
}
