//! The booking API limits requests per signed-in identity and per client
//! address: over either, 429 problem+json with Retry-After; the buckets
//! refill with time.

use std::time::Duration;

use silta_proto::v1::Role;
use silta_tests::booking::{Database, spawn_booking_with};

use crate::fixture::POINT;

async fn each_identity_and_each_address_has_its_bucket(database: Database) {
    let app = spawn_booking_with(database, |settings| {
        // One token a second: the scenario's first ten requests take far less.
        settings.request_limits.per_identity_per_second = 1;
        settings.request_limits.per_identity_burst = 4;
        settings.request_limits.per_address_per_second = 1;
        settings.request_limits.per_address_burst = 9;
    })
    .await;
    let first = app.token("advisor-1", Role::Advisor, POINT, &["fi"]);
    let second = app.token("advisor-2", Role::Advisor, POINT, &["fi"]);
    for _ in 0..4 {
        assert_eq!(app.get("/api/v1/agencies", Some(&first)).await.status, 200);
    }
    let refused = app.get("/api/v1/agencies", Some(&first)).await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"), "{refused:?}");
    // The same person with a fresh token is the same identity.
    let renewed = app.token("advisor-1", Role::Advisor, POINT, &["fi"]);
    assert_eq!(app.get("/api/v1/agencies", Some(&renewed)).await.status, 429);
    // A colleague at the same address has their own bucket…
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/agencies", Some(&second)).await.status, 200);
    }
    // …until the address's runs out (9, the refused ones counted), for
    // anyone and any token.
    let over = app.get("/api/v1/agencies", Some(&second)).await;
    assert_eq!((over.status, over.code()), (429, "rate_limited"), "{over:?}");
    assert_eq!(app.get("/api/v1/agencies", None).await.status, 429, "no token");
    // Time refills the buckets.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/api/v1/agencies", Some(&first)).await.status, 200);
}

/// The limit's answer carries the time to wait.
async fn the_refusal_says_when_to_come_back(database: Database) {
    let app = spawn_booking_with(database, |settings| {
        settings.request_limits.per_identity_per_second = 1;
        settings.request_limits.per_identity_burst = 1;
    })
    .await;
    let token = app.token("advisor-1", Role::Advisor, POINT, &["fi"]);
    assert_eq!(app.get("/api/v1/services", Some(&token)).await.status, 200);
    let response =
        reqwest::Client::new().get(format!("{}/api/v1/services", app.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
}

crate::on_both_databases!(each_identity_and_each_address_has_its_bucket, the_refusal_says_when_to_come_back);
