//! The OpenAPI document tells the truth: every refusal an operation can
//! give is listed with the problem+json schema ([`complete`]), and values
//! carry the rules the service enforces as it reads them (patterns,
//! lengths, ranges, formats: the `*Doc` schemas used as `value_type`s).

use std::borrow::Cow;

use serde_json::Value;
use silta_proto::v1::{AgencyCode, LanguageTag, ServiceId, ServicePointId, Subject};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

/// An error (RFC 9457 problem details), `application/problem+json`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (ends with the `code`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable, machine-readable code, e.g. `slot_taken`, `invalid_limit`.
    pub code: String,
    /// What went wrong, in words (never personal data).
    pub detail: String,
}

/// What each refusal means, for the document.
const REFUSALS: [(&str, &str); 10] = [
    (
        "400",
        "The request is malformed or a value breaks its schema (`invalid_query`, `invalid_body`, `invalid_limit`, …)",
    ),
    ("401", "No valid access token (`token_missing`, `token_expired`, `bad_signature`, …)"),
    ("403", "The caller's role, organisation or room scope does not allow this (`forbidden`)"),
    ("404", "No such resource, or not visible to the caller (`not_found`)"),
    (
        "409",
        "Conflicts with the current state (`slot_taken`, `slot_unavailable`, `invalid_status`, `feedback_exists`, …)",
    ),
    ("413", "The body is larger than the API takes (`body_too_large`)"),
    ("415", "The body is not `application/json` (`json_required`)"),
    (
        "422",
        "Valid, but breaks a rule across values or records (`service_of_other_agency`, `language_not_offered`, `unknown_reference`, `idempotency_key_reused`, …)",
    ),
    ("429", "Too many requests from this address or identity (`rate_limited`); see `Retry-After`"),
    ("500", "An unexpected failure (`internal`); the cause is in the service's log"),
];

/// Lists on every operation the refusals any request can meet — 400 (a
/// value that breaks its schema), 401, 429, 500, and 413/415 where there is
/// a body — and gives every 4xx/5xx the problem+json schema. The
/// operation-specific ones (403, 404, 409, 422) are in each operation's own
/// `responses`.
pub fn complete(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.insert("Problem".into(), Problem::schema());
    link_the_booking_to_its_operations(document);
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            complete_operation(operation);
        }
    }
}

/// The document as pretty JSON. utoipa writes a described value of an
/// inline schema as `allOf: [schema, {description, type: object}]`, which
/// no string satisfies; such pairs are merged into the one schema they mean.
pub fn to_pretty_json(document: &OpenApi) -> String {
    let mut value = serde_json::to_value(document).unwrap_or_default();
    merge_described(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into())
}

fn merge_described(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(parts)) = map.get("allOf")
                && let [Value::Object(schema), Value::Object(annotation)] = parts.as_slice()
                && annotation.get("type").is_none_or(|kind| kind == "object")
                && annotation.keys().all(|key| matches!(key.as_str(), "type" | "description" | "example" | "default"))
            {
                let mut merged = schema.clone();
                merged.extend(annotation.iter().filter(|(key, _)| *key != "type").map(|(k, v)| (k.clone(), v.clone())));
                merged.extend(map.iter().filter(|(key, _)| *key != "allOf").map(|(k, v)| (k.clone(), v.clone())));
                *map = merged;
            }
            map.values_mut().for_each(merge_described);
        }
        Value::Array(items) => items.iter_mut().for_each(merge_described),
        _ => {}
    }
}

/// A booking's id leads to what can be done with it (OpenAPI links: clients
/// and stateful testers follow them).
fn link_the_booking_to_its_operations(document: &mut OpenApi) {
    let Some(RefOr::T(created)) = document
        .paths
        .paths
        .get_mut("/api/v1/appointments")
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.responses.responses.get_mut("201"))
    else {
        return;
    };
    for (name, operation) in [
        ("read", "get_appointment"),
        ("cancel", "cancel_appointment"),
        ("reschedule", "reschedule_appointment"),
        ("no_show", "no_show_appointment"),
        ("check_in", "check_in_appointment"),
    ] {
        let link = LinkBuilder::new().operation_id(operation).parameter("id", "$response.body#/id").build();
        created.links.insert(name.into(), link.into());
    }
}

fn complete_operation(operation: &mut Operation) {
    let mut statuses = vec!["400", "401", "429", "500"];
    if operation.request_body.is_some() {
        statuses.extend(["413", "415"]);
    }
    let responses = &mut operation.responses.responses;
    for status in statuses {
        responses.entry(status.to_owned()).or_insert_with(|| ResponseBuilder::new().build().into());
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        let Some((_, meaning)) = REFUSALS.iter().find(|(code, _)| code == status) else {
            if response.description.is_empty() {
                response.description = match status.as_str() {
                    "201" => "Created",
                    "204" => "Done; no content",
                    _ => "OK",
                }
                .to_owned();
            }
            continue;
        };
        if status == "429" {
            let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
            let header =
                HeaderBuilder::new().schema(Some(seconds)).description(Some("Seconds to wait before trying again"));
            response.headers.insert("Retry-After".into(), header.build().into());
        }
        if response.description.is_empty() {
            response.description = (*meaning).to_owned();
        }
        response
            .content
            .insert("application/problem+json".into(), Content::new(Some(Ref::from_schema_name("Problem"))).into());
    }
}

fn string(min: usize, max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

/// A documentation-only schema for a value the API parses.
macro_rules! doc_schema {
    ($(#[$meta:meta])* $name:ident, $schema:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

doc_schema!(
    /// An agency code, e.g. `VERO`.
    AgencyCodeDoc,
    string(1, AgencyCode::MAX_LEN, AgencyCode::PATTERN)
);
doc_schema!(
    /// A service point id, e.g. `sp-kemi`.
    ServicePointIdDoc,
    string(1, ServicePointId::MAX_LEN, ServicePointId::PATTERN)
);
doc_schema!(
    /// A service id, e.g. `vero-tax-card`.
    ServiceIdDoc,
    string(1, ServiceId::MAX_LEN, ServiceId::PATTERN)
);
doc_schema!(
    /// A BCP 47 language tag, e.g. `fi`, `sv`, `fse`.
    LanguageTagDoc,
    string(1, LanguageTag::MAX_LEN, LanguageTag::PATTERN)
);
doc_schema!(
    /// A staff member's or a kiosk's id (the subject of their tokens).
    SubjectDoc,
    string(1, Subject::MAX_LEN, Subject::PATTERN)
);
doc_schema!(
    /// A time of day `HH:MM`, 00:00–24:00.
    ClockTimeDoc,
    string(4, 5, "^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$")
);
doc_schema!(
    /// A time of day on the 15-minute booking grid, `HH:MM`.
    GridTimeDoc,
    string(4, 5, "^(([01]?[0-9]|2[0-3]):(00|15|30|45)|24:00)$")
);
doc_schema!(
    /// How a session ended.
    OutcomeDoc,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::stats::ALL_OUTCOMES))
        .into()
);
doc_schema!(
    /// An e-mail address (see `notify::EMAIL_PATTERN`).
    EmailDoc,
    string(3, 254, crate::notify::EMAIL_PATTERN)
);
doc_schema!(
    /// The type of a document passing in a call.
    FileTypeDoc,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(silta_proto::v1::media::FileType::ALL.map(silta_proto::v1::media::FileType::as_str)))
        .into()
);
doc_schema!(
    /// A document's bytes in base64 (RFC 4648, with padding): at most
    /// 10 MiB decoded.
    DocumentContentDoc,
    string(4, 13_981_016, "^[A-Za-z0-9+/]*={0,2}$")
);
doc_schema!(
    /// A phone number for SMS, E.164: `+` and 8–15 digits.
    PhoneDoc,
    string(9, 16, r"^\+[0-9]{8,15}$")
);
doc_schema!(
    /// A month `YYYY-MM`.
    MonthDoc,
    string(7, 7, "^[0-9]{4}-(0[1-9]|1[0-2])$")
);
doc_schema!(
    /// A date `YYYY-MM-DD`.
    DateDoc,
    ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))).into()
);
doc_schema!(
    /// An IANA time zone, e.g. `Europe/Helsinki`.
    TimeZoneDoc,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())))
        .into()
);
