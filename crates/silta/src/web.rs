//! The browser apps: static ES modules from `web/`, no build step.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Only our own scripts, styles and endpoints; media from the camera
/// (blob/mediastream) only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; \
    media-src 'self' blob: mediastream:; style-src 'self'; script-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'";

/// Serves `root` at `/` (directories answer with their `index.html`).
pub fn routes(root: &Path) -> anyhow::Result<Router> {
    anyhow::ensure!(
        root.join("index.html").is_file(),
        "the browser apps are missing: {} has no index.html (set SILTA_WEB__ROOT)",
        root.display()
    );
    let files = ServeDir::new(root).append_index_html_on_directories(true);
    Ok(Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        )))
}
