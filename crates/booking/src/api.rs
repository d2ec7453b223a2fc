//! The REST API under `/api/v1`, with its OpenAPI 3.1 document at
//! `/api/openapi.json`. Errors are `application/problem+json`.

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use silta_auth::{AuthError, Identity};
use silta_http::limits::Requester;
use silta_proto::v1::Role;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::access::{Caller, page};
use crate::app::BookingState;
use crate::error::AppError;
use crate::extract::{Body, Params};
use crate::model::*;
use crate::{appointments, audit, devices, directory, documents, ics, stats};

fn now() -> i64 {
    Utc::now().timestamp()
}

impl FromRequestParts<BookingState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &BookingState) -> Result<Self, Self::Rejection> {
        // `identify` verified the token on the way in.
        let verified = match parts.extensions.get::<Verified>() {
            Some(Verified(verified)) => verified.clone(),
            None => verify(state, &parts.headers),
        };
        let identity = verified.map_err(|err| match err {
            None => AppError::Unauthorized("token_missing", "send an access token as `Authorization: Bearer`".into()),
            Some(err) => AppError::Unauthorized(err.code(), err.to_string()),
        })?;
        if identity.is_room_scoped() {
            let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
            if !ROOM_SCOPED_ROUTES.contains(&(parts.method.as_str(), route)) {
                return Err(AppError::Forbidden(
                    "a token scoped to rooms reads the public directory and gives its rooms' feedback, nothing else"
                        .into(),
                ));
            }
        }
        Ok(Caller(identity))
    }
}

/// The request's token as verified by [`identify`]: the identity, or why
/// not (`None`: no token).
#[derive(Debug, Clone)]
struct Verified(Result<Identity, Option<AuthError>>);

fn verify(state: &BookingState, headers: &HeaderMap) -> Result<Identity, Option<AuthError>> {
    let token = silta_http::bearer_token(headers).ok_or(None)?;
    state.verifier.verify_access(token).map_err(Some)
}

/// Verifies the token once per request, for the per-identity limit (its
/// subject) and for the handler ([`Caller`]).
async fn identify(State(state): State<BookingState>, mut request: axum::extract::Request, next: Next) -> Response {
    let verified = verify(&state, request.headers());
    if let Ok(identity) = &verified {
        request.extensions_mut().insert(Requester(identity.subject.as_str().to_owned()));
    }
    request.extensions_mut().insert(Verified(verified));
    next.run(request).await
}

/// What a token scoped to rooms may do over REST: read the public names it
/// shows (agencies, services, service points) and give feedback for a
/// session of its rooms (`stats::add_feedback` checks the room). Everything
/// else concerns more than its rooms.
const ROOM_SCOPED_ROUTES: [(&str, &str); 4] = [
    ("GET", "/api/v1/agencies"),
    ("GET", "/api/v1/services"),
    ("GET", "/api/v1/service-points"),
    ("POST", "/api/v1/feedback"),
];

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Silta booking API", version = "1", description = "Appointments, the directory, feedback and statistics (sessions and the on-demand queue's waits) of Silta remote service points. Errors are application/problem+json with a stable `code`."),
    modifiers(&BearerSecurity),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The router and its OpenAPI document.
pub fn router(state: BookingState) -> axum::Router {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_agencies, put_agency))
        .routes(routes!(list_services, put_service))
        .routes(routes!(list_service_points, put_service_point))
        .routes(routes!(put_opening_exception))
        .routes(routes!(put_holiday))
        .routes(routes!(list_kiosks, put_kiosk))
        .routes(routes!(list_device_credentials, issue_device_credential))
        .routes(routes!(revoke_device_credential))
        .routes(routes!(list_experts, put_expert))
        .routes(routes!(list_interpreters, put_interpreter))
        .routes(routes!(put_agreement))
        .routes(routes!(search_slots))
        .routes(routes!(list_appointments, create_appointment))
        .routes(routes!(get_appointment))
        .routes(routes!(cancel_appointment))
        .routes(routes!(reschedule_appointment))
        .routes(routes!(no_show_appointment))
        .routes(routes!(check_in_appointment))
        .routes(routes!(record_session))
        .routes(routes!(record_session_join))
        .routes(routes!(add_feedback))
        .routes(routes!(email_document).layer(axum::extract::DefaultBodyLimit::max(documents::MAX_BODY)))
        .routes(routes!(get_statistics))
        .routes(routes!(get_statistics_csv))
        .routes(routes!(list_audit))
        .routes(routes!(expert_calendar))
        .with_state(state.clone())
        .split_for_parts();
    crate::openapi::complete(&mut api);
    let document = crate::openapi::to_pretty_json(&api);
    let limits = silta_http::limits::Limits::new(&state.settings.request_limits);
    let router = router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        // Any other path under /api is the API's "no such resource", and
        // every framework refusal is problem+json like the API's own.
        .route("/api/{*rest}", axum::routing::any(|| async { StatusCode::NOT_FOUND }));
    limits
        .apply(router, |router| router.layer(axum::middleware::from_fn_with_state(state, identify)))
        .layer(axum::middleware::map_response(silta_http::problem_for_framework_errors))
}

type ApiResult<T> = Result<T, AppError>;

/// Pages a fully loaded directory list (directories are small: hundreds of
/// rows at most).
fn page_of<T>(items: Vec<T>, params: &PageParams) -> ApiResult<Page<T>> {
    let (limit, offset) = page(params.limit, params.offset)?;
    let items: Vec<T> = items.into_iter().skip(offset as usize).take(limit as usize + 1).collect();
    Ok(crate::access::paginate(items, limit, offset))
}

#[utoipa::path(get, path = "/api/v1/agencies", tag = "directory", params(PageParams), responses((status = 200, body = Page<Agency>)))]
async fn list_agencies(
    State(state): State<BookingState>,
    _caller: Caller,
    Params(params): Params<PageParams>,
) -> ApiResult<Json<Page<Agency>>> {
    Ok(Json(page_of(directory::list_agencies(&state.store).await?, &params)?))
}

#[utoipa::path(post, path = "/api/v1/agencies", tag = "directory", request_body = Agency, responses((status = 204), (status = 403), (status = 422)))]
async fn put_agency(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Agency>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_agency(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AgencyFilter {
    /// Only this agency.
    agency: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Items to skip (at most 2147483647).
    #[param(maximum = 2147483647)]
    offset: Option<u32>,
}

impl AgencyFilter {
    fn page(&self) -> PageParams {
        PageParams { limit: self.limit, offset: self.offset }
    }
}

#[utoipa::path(get, path = "/api/v1/services", tag = "directory", params(AgencyFilter), responses((status = 200, body = Page<Service>)))]
async fn list_services(
    State(state): State<BookingState>,
    _caller: Caller,
    Params(filter): Params<AgencyFilter>,
) -> ApiResult<Json<Page<Service>>> {
    Ok(Json(page_of(directory::list_services(&state.store, filter.agency.as_deref()).await?, &filter.page())?))
}

#[utoipa::path(post, path = "/api/v1/services", tag = "directory", request_body = Service, responses((status = 204), (status = 403), (status = 422)))]
async fn put_service(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Service>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_service(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/service-points", tag = "directory", params(PageParams), responses((status = 200, body = Page<ServicePoint>)))]
async fn list_service_points(
    State(state): State<BookingState>,
    _caller: Caller,
    Params(params): Params<PageParams>,
) -> ApiResult<Json<Page<ServicePoint>>> {
    Ok(Json(page_of(directory::list_service_points(&state.store).await?, &params)?))
}

#[utoipa::path(post, path = "/api/v1/service-points", tag = "directory", request_body = ServicePoint, responses((status = 204), (status = 403), (status = 422)))]
async fn put_service_point(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<ServicePoint>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_service_point(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/opening-exceptions", tag = "directory", request_body = OpeningException, responses((status = 204), (status = 403), (status = 422)))]
async fn put_opening_exception(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<OpeningException>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_exception(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/holidays", tag = "directory", request_body = Holiday, responses((status = 204), (status = 403), (status = 422)))]
async fn put_holiday(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Holiday>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_holiday(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PointFilter {
    /// Only this service point.
    service_point: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Items to skip (at most 2147483647).
    #[param(maximum = 2147483647)]
    offset: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/kiosks", tag = "directory", params(PointFilter), responses((status = 200, body = Page<Kiosk>), (status = 403)))]
async fn list_kiosks(
    State(state): State<BookingState>,
    caller: Caller,
    Params(filter): Params<PointFilter>,
) -> ApiResult<Json<Page<Kiosk>>> {
    // A kiosk sees the kiosks of its own service point only.
    let point = match caller.role() {
        Role::Kiosk => caller.service_point(),
        _ => filter.service_point.as_deref(),
    };
    let kiosks = directory::list_kiosks(&state.store, point).await?;
    Ok(Json(page_of(kiosks, &PageParams { limit: filter.limit, offset: filter.offset })?))
}

#[utoipa::path(post, path = "/api/v1/kiosks", tag = "directory", request_body = Kiosk, responses((status = 204), (status = 403), (status = 422)))]
async fn put_kiosk(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Kiosk>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_kiosk(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/kiosks/{id}/credentials", tag = "directory", params(("id" = String, Path, description = "The kiosk")), responses((status = 200, body = Vec<DeviceCredentialInfo>), (status = 403), (status = 404)))]
async fn list_device_credentials(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<DeviceCredentialInfo>>> {
    Ok(Json(devices::list(&state.store, &caller, &id).await?))
}

/// Issues a kiosk device credential (admins): shown once in the answer,
/// never stored.
#[utoipa::path(post, path = "/api/v1/kiosks/{id}/credentials", tag = "directory", params(("id" = String, Path, description = "The kiosk")), request_body = DeviceCredentialRequest, responses((status = 201, body = IssuedDeviceCredential), (status = 403), (status = 404), (status = 503)))]
async fn issue_device_credential(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<DeviceCredentialRequest>,
) -> ApiResult<(StatusCode, Json<IssuedDeviceCredential>)> {
    caller.require_admin()?;
    let Some(issuer) = state.device_issuer.get() else {
        return Err(AppError::Unavailable(
            "credentials_unavailable",
            "this node holds no signing key; issue with `silta device-credential`".into(),
        ));
    };
    let issued = devices::issue(&state.store, issuer, &caller, &id, &body, now()).await?;
    tracing::info!(credential = %issued.info.id, "kiosk device credential issued");
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes a kiosk device credential (admins): the kiosk's next token
/// exchange is refused.
#[utoipa::path(post, path = "/api/v1/device-credentials/{id}/revoke", tag = "directory", params(("id" = String, Path, description = "The credential's id")), responses((status = 200, body = DeviceCredentialInfo), (status = 403), (status = 404)))]
async fn revoke_device_credential(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceCredentialInfo>> {
    let revoked = devices::revoke(&state.store, &caller, &id, now()).await?;
    tracing::info!(credential = %revoked.id, "kiosk device credential revoked");
    Ok(Json(revoked))
}

#[utoipa::path(get, path = "/api/v1/experts", tag = "directory", params(AgencyFilter), responses((status = 200, body = Page<Expert>), (status = 403)))]
async fn list_experts(
    State(state): State<BookingState>,
    caller: Caller,
    Params(filter): Params<AgencyFilter>,
) -> ApiResult<Json<Page<Expert>>> {
    // The staff directory (ids, languages, working hours): admins see it
    // all, an expert their own agency's; nobody else needs it.
    let agency = match caller.role() {
        Role::Admin => filter.agency.as_deref(),
        Role::Expert => caller.agency(),
        _ => return Err(AppError::Forbidden("the staff directory is for admins and an agency's experts".into())),
    };
    Ok(Json(page_of(directory::list_experts(&state.store, agency).await?, &filter.page())?))
}

#[utoipa::path(post, path = "/api/v1/experts", tag = "directory", request_body = Expert, responses((status = 204), (status = 403), (status = 422)))]
async fn put_expert(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Expert>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_expert(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/interpreters", tag = "directory", params(PageParams), responses((status = 200, body = Page<Interpreter>), (status = 403)))]
async fn list_interpreters(
    State(state): State<BookingState>,
    caller: Caller,
    Params(params): Params<PageParams>,
) -> ApiResult<Json<Page<Interpreter>>> {
    // Interpreters' languages and hours are for those who book them.
    require_staff(&caller)?;
    Ok(Json(page_of(directory::list_interpreters(&state.store).await?, &params)?))
}

#[utoipa::path(post, path = "/api/v1/interpreters", tag = "directory", request_body = Interpreter, responses((status = 204), (status = 403), (status = 422)))]
async fn put_interpreter(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Interpreter>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_interpreter(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/agreements", tag = "directory", request_body = Agreement, responses((status = 204), (status = 403), (status = 422)))]
async fn put_agreement(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<Agreement>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    directory::upsert_agreement(&state.store, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn require_staff(caller: &Caller) -> ApiResult<()> {
    match caller.role() {
        Role::Admin | Role::Advisor | Role::Expert => Ok(()),
        _ => Err(AppError::Forbidden("for advisors, experts and admins".into())),
    }
}

#[utoipa::path(get, path = "/api/v1/slots", tag = "appointments", params(SlotSearch), responses((status = 200, body = Vec<Slot>), (status = 403), (status = 404), (status = 422)))]
async fn search_slots(
    State(state): State<BookingState>,
    caller: Caller,
    Params(search): Params<SlotSearch>,
) -> ApiResult<Json<Vec<Slot>>> {
    require_staff(&caller)?;
    Ok(Json(appointments::search_slots(&state.store, &search, now()).await?))
}

#[utoipa::path(
    post, path = "/api/v1/appointments", tag = "appointments", request_body = NewAppointment,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 128, description = "Retries with the same key (1–128 characters) return the first result")),
    responses((status = 201, body = Appointment), (status = 200, description = "An idempotent replay", body = Appointment), (status = 403), (status = 404), (status = 409), (status = 422))
)]
async fn create_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<NewAppointment>,
) -> ApiResult<Response> {
    let key = headers.get("idempotency-key").map(|value| value.to_str().unwrap_or("\u{fffd}"));
    let booked = appointments::create(&state.store, &caller, &body, key, &state.settings.notifications, now()).await?;
    let status = if booked.replayed { StatusCode::OK } else { StatusCode::CREATED };
    if !booked.replayed {
        announce_change(&state, &booked.appointment);
    }
    Ok((status, Json(booked.appointment)).into_response())
}

#[utoipa::path(get, path = "/api/v1/appointments", tag = "appointments", params(AppointmentFilter), responses((status = 200, body = Page<Appointment>), (status = 403)))]
async fn list_appointments(
    State(state): State<BookingState>,
    caller: Caller,
    Params(filter): Params<AppointmentFilter>,
) -> ApiResult<Json<Page<Appointment>>> {
    Ok(Json(appointments::list(&state.store, &caller, &filter).await?))
}

#[utoipa::path(get, path = "/api/v1/appointments/{id}", tag = "appointments", params(("id" = String, Path)), responses((status = 200, body = Appointment), (status = 403), (status = 404)))]
async fn get_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Appointment>> {
    Ok(Json(appointments::get(&state.store, &caller, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/appointments/{id}/cancel", tag = "appointments", params(("id" = String, Path)), responses((status = 200, body = Appointment), (status = 403), (status = 404), (status = 409)))]
async fn cancel_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Appointment>> {
    let cancelled = appointments::cancel(&state.store, &caller, &id, &state.settings.notifications, now()).await?;
    announce_change(&state, &cancelled);
    Ok(Json(cancelled))
}

#[utoipa::path(post, path = "/api/v1/appointments/{id}/reschedule", tag = "appointments", params(("id" = String, Path)), request_body = Reschedule, responses((status = 200, body = Appointment), (status = 403), (status = 404), (status = 409), (status = 422)))]
async fn reschedule_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Reschedule>,
) -> ApiResult<Json<Appointment>> {
    let moved =
        appointments::reschedule(&state.store, &caller, &id, &body, &state.settings.notifications, now()).await?;
    announce_change(&state, &moved);
    Ok(Json(moved))
}

#[utoipa::path(post, path = "/api/v1/appointments/{id}/no-show", tag = "appointments", params(("id" = String, Path)), responses((status = 200, body = Appointment), (status = 403), (status = 404), (status = 409)))]
async fn no_show_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Appointment>> {
    let marked = appointments::no_show(&state.store, &caller, &id, now()).await?;
    announce_change(&state, &marked);
    Ok(Json(marked))
}

#[utoipa::path(post, path = "/api/v1/appointments/{id}/check-in", tag = "appointments", params(("id" = String, Path)), responses((status = 200, body = Appointment), (status = 403), (status = 404), (status = 409)))]
async fn check_in_appointment(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Appointment>> {
    let checked_in = appointments::check_in(&state.store, &caller, &id, &state.events, now()).await?;
    announce_change(&state, &checked_in);
    Ok(Json(checked_in))
}

/// Staff screens listing the appointment hear of the change (through the
/// signal service); nobody listening is fine.
fn announce_change(state: &BookingState, appointment: &Appointment) {
    let _ = state.events.send(crate::events::BookingEvent::changed(appointment));
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "statistics", request_body = SessionRecord, responses((status = 204), (status = 403), (status = 404), (status = 422)))]
async fn record_session(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<SessionRecord>,
) -> ApiResult<StatusCode> {
    stats::record_session(&state.store, &caller, &body, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/session-joins", tag = "audit", request_body = SessionJoin, responses((status = 204), (status = 403)))]
async fn record_session_join(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<SessionJoin>,
) -> ApiResult<StatusCode> {
    stats::record_join(&state.store, &caller, &body, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a document the citizen was handed in a call to the e-mail address
/// they typed at the kiosk (kiosks): used once, kept nowhere; the audit log
/// records only the type and size.
#[utoipa::path(post, path = "/api/v1/documents/email", tag = "documents", request_body = documents::DocumentEmail, responses((status = 204), (status = 400), (status = 403), (status = 413), (status = 503)))]
async fn email_document(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<documents::DocumentEmail>,
) -> ApiResult<StatusCode> {
    documents::email(&state.store, &state.mailer, &caller, body, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/feedback", tag = "statistics", request_body = NewFeedback, responses((status = 204), (status = 403), (status = 404), (status = 409)))]
async fn add_feedback(
    State(state): State<BookingState>,
    caller: Caller,
    Body(body): Body<NewFeedback>,
) -> ApiResult<StatusCode> {
    stats::add_feedback(&state.store, &caller, &body, now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/statistics", tag = "statistics", params(StatisticsQuery), responses((status = 200, body = Vec<StatisticsRow>), (status = 403)))]
async fn get_statistics(
    State(state): State<BookingState>,
    caller: Caller,
    Params(query): Params<StatisticsQuery>,
) -> ApiResult<Json<Vec<StatisticsRow>>> {
    Ok(Json(stats::statistics(&state.store, &caller, &query.from, &query.to, query.within_minutes).await?))
}

#[utoipa::path(get, path = "/api/v1/statistics.csv", tag = "statistics", params(StatisticsQuery), responses((status = 200, content_type = "text/csv", body = String), (status = 403)))]
async fn get_statistics_csv(
    State(state): State<BookingState>,
    caller: Caller,
    Params(query): Params<StatisticsQuery>,
) -> ApiResult<Response> {
    let rows = stats::statistics(&state.store, &caller, &query.from, &query.to, query.within_minutes).await?;
    let mut response = stats::to_csv(&rows).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"silta-statistics.csv\""));
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageParams), responses((status = 200, body = Page<AuditEntry>), (status = 403)))]
async fn list_audit(
    State(state): State<BookingState>,
    caller: Caller,
    Params(params): Params<PageParams>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    caller.require_admin()?;
    let (limit, offset) = page(params.limit, params.offset)?;
    Ok(Json(audit::list(&state.store, limit, offset).await?))
}

#[utoipa::path(get, path = "/api/v1/experts/{id}/calendar.ics", tag = "appointments", params(("id" = String, Path)), responses((status = 200, content_type = "text/calendar", body = String), (status = 403)))]
async fn expert_calendar(
    State(state): State<BookingState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !(caller.role() == Role::Admin || (caller.role() == Role::Expert && caller.subject() == id)) {
        return Err(AppError::Forbidden("an expert reads their own calendar".into()));
    }
    let now = now();
    let list = appointments::of_expert(&state.store, &id, appointments::feed_start(now)).await?;
    let points = directory::list_service_points(&state.store).await?;
    let events: Vec<ics::Event> = list
        .into_iter()
        .map(|appointment| {
            let place = points
                .iter()
                .find(|point| point.id.as_str() == appointment.service_point)
                .map(|point| format!("{}, {}", point.address, point.municipality))
                .unwrap_or_else(|| appointment.service_point.clone());
            ics::Event {
                summary: format!("{} remote appointment ({})", appointment.agency, appointment.service),
                location: place,
                uid: appointment.id,
                starts_at: appointment.starts_at,
                ends_at: appointment.ends_at,
                cancelled: false,
            }
        })
        .collect();
    let body = ics::calendar("PUBLISH", &events, Utc::now());
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    Ok(response)
}
