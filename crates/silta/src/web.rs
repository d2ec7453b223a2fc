//! The browser apps: static ES modules from `web/`, no build step, and the
//! list of an app's message catalogues (`/<app>/i18n/languages.json`), so a
//! language is added by adding its one catalogue file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
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
        .route("/{app}/i18n/languages.json", get(catalogue_languages))
        .with_state(Arc::new(root.to_path_buf()))
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

/// One language an app has a catalogue for.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CatalogueLanguage {
    /// The language tag (the catalogue's file name): `fi`, `se`, `smn`.
    pub code: String,
    /// Its name in itself (the catalogue's `language.name`).
    pub name: String,
    /// `reviewed`, or `awaiting_review` until a native speaker signs the
    /// catalogue off (its `language.review`).
    pub review: String,
}

/// The languages first in every list; others follow by tag.
const FIRST: [&str; 3] = ["fi", "sv", "en"];

async fn catalogue_languages(State(root): State<Arc<PathBuf>>, UrlPath(app): UrlPath<String>) -> Response {
    if app.is_empty() || !app.chars().all(|c| c.is_ascii_lowercase()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let folder = root.join(&app).join("i18n");
    match tokio::task::spawn_blocking(move || languages_in(&folder)).await {
        Ok(Some(languages)) => Json(languages).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The catalogues in `folder` (`<tag>.json`), fi, sv and en first; `None`
/// when there is no such folder. A catalogue that cannot be read is left out
/// (and logged by file name), so one broken file does not take the others.
pub fn languages_in(folder: &Path) -> Option<Vec<CatalogueLanguage>> {
    let entries = std::fs::read_dir(folder).ok()?;
    let mut languages = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(code) = path.file_name().and_then(|name| name.to_str()).and_then(|name| name.strip_suffix(".json"))
        else {
            continue;
        };
        if !(2..=8).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_lowercase()) {
            continue;
        }
        let catalogue = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<std::collections::BTreeMap<String, String>>(&bytes).ok());
        let Some(catalogue) = catalogue else {
            tracing::warn!(file = %path.display(), "a message catalogue is not a JSON object of strings; left out");
            continue;
        };
        languages.push(CatalogueLanguage {
            code: code.to_owned(),
            name: catalogue.get("language.name").cloned().unwrap_or_else(|| code.to_owned()),
            review: catalogue.get("language.review").cloned().unwrap_or_else(|| "reviewed".to_owned()),
        });
    }
    languages.sort_by_key(|language| {
        (FIRST.iter().position(|first| *first == language.code).unwrap_or(FIRST.len()), language.code.clone())
    });
    Some(languages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kiosk_lists_its_catalogues_with_their_review_state() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/kiosk/i18n");
        let languages = languages_in(&folder).expect("the kiosk's catalogues");
        let codes: Vec<&str> = languages.iter().map(|language| language.code.as_str()).collect();
        assert_eq!(&codes[..3], ["fi", "sv", "en"]);
        assert!(codes.contains(&"se"), "{codes:?}");
        let se = languages.iter().find(|language| language.code == "se").unwrap();
        assert_eq!(se.review, "awaiting_review", "Northern Sámi waits for a native speaker's review");
        assert_eq!(languages[0].name, "Suomi");
        assert!(
            languages.iter().filter(|language| FIRST.contains(&language.code.as_str())).all(|l| l.review == "reviewed")
        );
    }

    #[test]
    fn a_new_catalogue_file_is_a_new_language_and_a_broken_one_is_left_out() {
        let folder = std::env::temp_dir().join(format!("silta-i18n-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("fi.json"), r#"{"language.name": "Suomi", "language.review": "reviewed"}"#).unwrap();
        std::fs::write(
            folder.join("smn.json"),
            r#"{"language.name": "Anarâškielâ", "language.review": "awaiting_review"}"#,
        )
        .unwrap();
        std::fs::write(folder.join("sms.json"), "not json").unwrap();
        std::fs::write(folder.join("README.md"), "notes").unwrap();
        let languages = languages_in(&folder).unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(
            languages,
            vec![
                CatalogueLanguage { code: "fi".into(), name: "Suomi".into(), review: "reviewed".into() },
                CatalogueLanguage {
                    code: "smn".into(), name: "Anarâškielâ".into(), review: "awaiting_review".into()
                },
            ]
        );
        assert!(languages_in(&std::env::temp_dir().join("silta-no-such-folder")).is_none());
    }
}
