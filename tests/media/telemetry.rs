//! Observability across real processes: two `silta signal` nodes, a
//! `silta sfu` node and `silta booking`, on a private nats-server, all
//! exporting to a real OTLP/gRPC receiver started by the test.
//!
//! - A join (the kiosk's SDP offer on the gateway node → the hub on the
//!   leading node → the media command → the media node) arrives as one
//!   connected trace; so does a booking (HTTP → SQL → outbox) begun by a
//!   caller's `traceparent`.
//! - A whole session with personal data in every free-text and contact
//!   field leaves none of it in any exported span, metric or log line.
//! - Every service's `/metrics` holds the operator views' catalogue
//!   (`deploy/observability/metrics.txt`), OTLP receives the metrics too,
//!   and no metric gains series from 10 sessions to 100.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde_json::json;
use silta_auth::SigningKey;
use silta_cluster::{Cluster, ClusterSettings};
use silta_loadgen::{Peer, PeerOptions, SignalClient};
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, RoomId};
use silta_tests::booking::{Database, fresh_database};
use silta_tests::media::{in_loopback_only_namespace, wait_until};
use silta_tests::nats::NatsServer;
use silta_tests::otlp::{OtlpReceiver, ReceivedSpan};
use silta_tests::process::{BookingProcess, SignalProcess, SiltaProcess};
use silta_tests::signal::{SignalEndpoint, WsClient, open_and_queue};
use sqlx::Connection as _;

use crate::forwarding::client;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![
        ("telemetry_a_join_and_a_booking_are_each_one_trace_and_no_personal_data_leaves", || traced().boxed()),
        ("telemetry_every_service_exports_the_catalogue_with_bounded_labels", || catalogue().boxed()),
    ]
}

/// Personal data as people type it: a name, a Finnish identity code, an
/// e-mail address and a phone number.
const NAME: &str = "Maija Meikäläinen-Testinen";
const IDENTITY_CODE: &str = "131052-308T";
const EMAIL: &str = "maija.testinen@example.fi";
const PHONE: &str = "+358401234567";
/// A name typed where an agency code goes (the code's form allows it).
const TYPED_AGENCY: &str = "MEIKALAINENMAIJA";

struct Deployment {
    otlp: OtlpReceiver,
    _nats: NatsServer,
    _sfu: SiltaProcess,
    sfu_http: SocketAddr,
    signals: Vec<SignalProcess>,
    booking: BookingProcess,
    logs: PathBuf,
    database: String,
    http: reqwest::Client,
}

impl Deployment {
    async fn start(log_filter: &str) -> Self {
        assert!(in_loopback_only_namespace());
        let otlp = OtlpReceiver::start().await;
        let nats = NatsServer::start();
        let logs = std::env::temp_dir().join(format!("silta-telemetry-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&logs).expect("the log directory");
        let telemetry = [
            ("SILTA_TELEMETRY__OTLP_ENDPOINT", otlp.endpoint.as_str()),
            ("SILTA_TELEMETRY__METRICS_INTERVAL_S", "1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("SILTA_LOG__FILTER", log_filter),
        ];
        let sfu_http = silta_tests::free_address().to_string();
        let mut settings = vec![
            ("SILTA_CLUSTER__NATS_URL", nats.url.as_str()),
            ("SILTA_CLUSTER__NODE_ID", "media-1"),
            ("SILTA_SFU__BIND", "127.0.0.1:0"),
            ("SILTA_SFU__HTTP_BIND", sfu_http.as_str()),
        ];
        settings.extend_from_slice(&telemetry);
        let sfu = SiltaProcess::start_logged(&["sfu"], &settings, &logs.join("sfu.log"));
        let registry =
            Cluster::connect(&ClusterSettings { nats_url: nats.url.clone(), ..ClusterSettings::default() }, "t")
                .await
                .expect("the cluster connects");
        let deadline = Instant::now() + Duration::from_secs(20);
        while registry.live_nodes().await.map_or(true, |nodes| nodes.is_empty()) {
            assert!(Instant::now() < deadline, "the media node registers within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let key = SigningKey::generate("cluster").expect("a signing key");
        let mut signals = Vec::new();
        for name in ["signal-a", "signal-b"] {
            let mut extra = vec![("SILTA_CLUSTER__NODE_ID", name)];
            extra.extend_from_slice(&telemetry);
            signals.push(SignalProcess::start_logged(&nats.url, &key, &extra, &logs.join(format!("{name}.log"))));
        }
        let database = fresh_database(Database::Sqlite).await;
        let booking =
            BookingProcess::start_logged(&nats.url, &key, &database, &telemetry, Some(&logs.join("booking.log")));
        sqlx::any::install_default_drivers();
        let deployment = Self {
            otlp,
            _nats: nats,
            _sfu: sfu,
            sfu_http: sfu_http.parse().expect("an address"),
            signals,
            booking,
            logs,
            database,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client"),
        };
        deployment.leader().await;
        deployment
    }

    /// The index of the signal node that runs the hub.
    async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for (index, node) in self.signals.iter().enumerate() {
                let health = self.json(&format!("http://{}/healthz", node.address)).await;
                if health.as_ref().is_some_and(|h| h["run"].is_string() && h["run"] == h["leader"]) {
                    return index;
                }
            }
            assert!(Instant::now() < deadline, "no signal node leads within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn json(&self, url: &str) -> Option<serde_json::Value> {
        self.http.get(url).send().await.ok()?.json().await.ok()
    }

    /// Every process's `/metrics`: (process, text).
    async fn scrapes(&self) -> Vec<(String, String)> {
        let mut urls = vec![
            ("sfu".to_owned(), format!("http://{}/metrics", self.sfu_http)),
            ("booking".to_owned(), self.booking.url("/metrics")),
        ];
        for (index, node) in self.signals.iter().enumerate() {
            urls.push((format!("signal-{index}"), format!("http://{}/metrics", node.address)));
        }
        let mut scrapes = Vec::new();
        for (name, url) in urls {
            let response = self.http.get(&url).send().await.unwrap_or_else(|err| panic!("{url}: {err}"));
            assert_eq!(response.status(), 200, "{url}");
            scrapes.push((name, response.text().await.expect("the metrics text")));
        }
        scrapes
    }

    /// An access token of the booking service's callers.
    fn token(&self, subject: &str, role: Role, organisation: &str) -> String {
        self.signals[0].token(subject, role, organisation, &["fi"])
    }

    /// An advisor of Kemi posts `{}` to the booking API's `path` (a
    /// check-in, a cancellation); the status must be a success.
    async fn advisor_posts(&self, path: &str) {
        let token = self.token("advisor-kemi-1", Role::Advisor, "sp-kemi");
        let response = self.http.post(self.booking.url(path)).bearer_auth(&token).json(&json!({})).send().await;
        let response = response.unwrap_or_else(|err| panic!("{path}: {err}"));
        assert!(response.status().is_success(), "{path}: {response:?}");
    }

    /// Books the first free Vero slot at Kemi with `contact`, sending
    /// `headers`; returns the appointment.
    async fn book(&self, contact: serde_json::Value, headers: &[(&str, &str)]) -> serde_json::Value {
        let token = self.token("advisor-kemi-1", Role::Advisor, "sp-kemi");
        let starts_at = self.booking.first_free_vero_slot(&self.http, &token).await;
        let mut request = self.http.post(self.booking.url("/api/v1/appointments")).bearer_auth(&token).json(&json!({
            "agency": "VERO", "service": "vero-tax-card", "service_point": "sp-kemi",
            "starts_at": starts_at, "language": "fi", "contact": contact}));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("booking");
        assert_eq!(response.status(), 201, "booked");
        response.json().await.expect("the appointment")
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.logs);
    }
}

/// One session through the queue: the advisor opens it for the kiosk and
/// asks Vero; the expert accepts and ends it. Returns the room.
async fn session(advisor: &mut WsClient, kiosk: &mut WsClient, expert: &mut WsClient) -> String {
    let room = open_and_queue(advisor, "kiosk-kemi-1", "VERO", "fi").await;
    expert.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room.as_str() == room)).await;
    expert.ok(json!({"type": "call_accept", "room": room})).await;
    expert.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(e) if e.room.as_str() == room)).await;
    room
}

/// The advisor of `point` opens a session for its kiosk on `node`: the room
/// and both clients, joined.
async fn opened_session(node: &SignalProcess, point: &str) -> (RoomId, SignalClient, SignalClient) {
    let place = point.trim_start_matches("sp-");
    let kiosk = client(node, &format!("kiosk-{place}-1"), Role::Kiosk, point).await;
    let mut advisor = client(node, &format!("advisor-{place}-1"), Role::Advisor, point).await;
    let open = json!({"type": "session_open", "kiosk": format!("kiosk-{place}-1")});
    let ServerMessage::Joined(joined) = advisor.request(open).await.expect("session_open") else {
        panic!("session_open replies joined")
    };
    (joined.room.room, kiosk, advisor)
}

/// Waits until the spans `select` picks are there; returns them.
async fn spans_where(
    otlp: &OtlpReceiver,
    what: &str,
    select: impl Fn(&[ReceivedSpan]) -> Option<Vec<ReceivedSpan>>,
) -> Vec<ReceivedSpan> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = select(&otlp.spans()) {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within 20 s; received: {:#?}", otlp.spans());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn named<'a>(trace: &'a [ReceivedSpan], name: &str) -> Vec<&'a ReceivedSpan> {
    trace.iter().filter(|span| span.name == name).collect()
}

fn parent_of<'a>(trace: &'a [ReceivedSpan], span: &ReceivedSpan) -> Option<&'a ReceivedSpan> {
    trace.iter().find(|other| other.span_id == span.parent_span_id)
}

async fn traced() {
    let deployment = Deployment::start("debug").await;
    let leader = deployment.leader().await;
    let gateway = &deployment.signals[1 - leader];

    // The join: kiosk and advisor on the gateway node; the kiosk's SDP
    // offer goes to the hub on the leader and on to the media node.
    let (room, kiosk, mut advisor) = opened_session(gateway, "sp-kemi").await;
    let kiosk_peer = Peer::join(kiosk, room.clone(), PeerOptions::default()).await.expect("the kiosk joins");
    let trace = spans_where(&deployment.otlp, "the join's trace down to the media node", |spans| {
        let offer = spans.iter().find(|span| {
            span.name == "signal.message"
                && span.attributes.get("type").map(String::as_str) == Some("sdp_offer")
                && span.parent_span_id.is_empty()
        })?;
        let trace: Vec<ReceivedSpan> = spans.iter().filter(|span| span.trace_id == offer.trace_id).cloned().collect();
        trace.iter().any(|span| span.name == "sfu.command").then_some(trace)
    })
    .await;
    let services: BTreeSet<&str> = trace.iter().map(|span| span.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(["silta-sfu", "silta-signal"]), "{trace:#?}");
    let root = named(&trace, "signal.message")[0];
    for span in &trace {
        if span.span_id != root.span_id {
            assert!(parent_of(&trace, span).is_some(), "{} is linked into the trace: {trace:#?}", span.name);
        }
    }
    let on_node = named(&trace, "sfu.command");
    assert_eq!(on_node[0].attributes.get("command").map(String::as_str), Some("offer"), "{trace:#?}");
    let command = parent_of(&trace, on_node[0]).expect("the media node's span has its parent");
    assert_eq!(command.name, "media.command", "{trace:#?}");
    assert_eq!(command.service, "silta-signal");
    let call = parent_of(&trace, command).expect("the media command's parent");
    assert_eq!(call.name, "hub.call", "the leader's answer to the gateway: {trace:#?}");
    assert_eq!(parent_of(&trace, call).map(|span| span.span_id.as_str()), Some(root.span_id.as_str()));
    assert!(
        named(&trace, "hub.call").iter().any(|span| span.attributes.get("input").map(String::as_str) == Some("client")),
        "the offer itself went through the hub: {trace:#?}"
    );

    // A booking begun elsewhere (the caller's trace context in
    // `traceparent`): HTTP → the booking → its notifications, one trace.
    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let booked =
        deployment.book(json!({"email": EMAIL, "phone": PHONE}), &[("traceparent", traceparent.as_str())]).await;
    let appointment = booked["id"].as_str().expect("an appointment id").to_owned();
    // Spans are exported as they end, in batches: the request's own span
    // ends after the notifications' do.
    let trace = spans_where(&deployment.otlp, "the booking's trace", |spans| {
        let trace: Vec<ReceivedSpan> = spans.iter().filter(|span| span.trace_id == trace_id).cloned().collect();
        let complete = trace.iter().filter(|span| span.name == "outbox.enqueue").count() >= 2
            && trace.iter().any(|span| span.name == "POST /api/v1/appointments");
        complete.then_some(trace)
    })
    .await;
    let http = named(&trace, "POST /api/v1/appointments");
    assert_eq!(http.len(), 1, "{trace:#?}");
    assert_eq!(http[0].parent_span_id, caller_span, "the caller's span is the parent");
    assert_eq!(http[0].service, "silta-booking");
    assert_eq!(http[0].attributes.get("http.response.status_code").map(String::as_str), Some("201"));
    let create = named(&trace, "appointment.create");
    assert_eq!(parent_of(&trace, create[0]).map(|span| span.name.as_str()), Some("POST /api/v1/appointments"));
    let transaction = named(&trace, "db.transaction");
    assert_eq!(parent_of(&trace, transaction[0]).map(|span| span.name.as_str()), Some("appointment.create"));
    assert_eq!(transaction[0].attributes.get("db.system").map(String::as_str), Some("sqlite"));
    for enqueue in named(&trace, "outbox.enqueue") {
        assert_eq!(parent_of(&trace, enqueue).map(|span| span.span_id.as_str()), Some(transaction[0].span_id.as_str()));
    }

    // The rest of a whole session, personal data in every free-text and
    // contact field: the appointment's check-in, an expert, the end, the
    // citizen's feedback, an admin's reason.
    let mut expert = deployment.signals[leader].connect("expert-vero-1", Role::Expert, "VERO", &["fi"]).await;
    deployment.advisor_posts(&format!("/api/v1/appointments/{appointment}/check-in")).await;
    advisor
        .request(json!({"type": "expert_request", "room": room, "target": {"by": "queue", "agency": "VERO", "language": "fi"}}))
        .await
        .expect("expert_request");
    expert.wait_for(|m| matches!(m, ServerMessage::CallOffered(o) if o.room == room)).await;
    expert.ok(json!({"type": "call_accept", "room": room})).await;
    expert.ok(json!({"type": "session_end", "room": room, "outcome": "resolved"})).await;
    let kiosk_token = deployment.token("kiosk-kemi-1", Role::Kiosk, "sp-kemi");
    let comment = format!("{NAME}, hetu {IDENTITY_CODE}, {EMAIL}, {PHONE}: kiitos!");
    let send_feedback = async || {
        let request = deployment.http.post(deployment.booking.url("/api/v1/feedback")).bearer_auth(&kiosk_token);
        request.json(&json!({"room": room, "score": 5, "comment": comment})).send().await.expect("feedback").status()
    };
    // The session's record reaches the booking service over NATS first.
    let mut feedback_status = send_feedback().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while feedback_status == 404 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        feedback_status = send_feedback().await;
    }
    assert_eq!(feedback_status, 204, "the feedback with its comment is stored");
    // The session's end reached the booking service as a record, in the
    // trace of the expert's `session_end` (the context rode the records
    // stream's message headers).
    let trace = spans_where(&deployment.otlp, "the session record stored in the session end's trace", |spans| {
        let end = spans.iter().find(|span| {
            span.name == "signal.message" && span.attributes.get("type").map(String::as_str) == Some("session_end")
        })?;
        let trace: Vec<ReceivedSpan> = spans.iter().filter(|span| span.trace_id == end.trace_id).cloned().collect();
        trace.iter().any(|span| span.name == "record.store" && span.service == "silta-booking").then_some(trace)
    })
    .await;
    let store = named(&trace, "record.store")[0];
    let consume = parent_of(&trace, store).expect("the store's parent");
    assert_eq!((consume.name.as_str(), consume.service.as_str()), ("record.consume", "silta-booking"), "{trace:#?}");
    assert!(parent_of(&trace, consume).is_some_and(|span| span.service == "silta-signal"), "{trace:#?}");
    let admin = deployment.token("admin-1", Role::Admin, "silta");
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(30);
    let exception = deployment
        .http
        .post(deployment.booking.url("/api/v1/opening-exceptions"))
        .bearer_auth(&admin)
        .json(&json!({"service_point": "sp-kemi", "date": date, "reason": format!("{NAME} {PHONE} on lomalla")}))
        .send()
        .await
        .expect("an opening exception");
    assert_eq!(exception.status(), 204, "the admin's reason is stored");
    // The data really went in: the database holds it (until issue-tracked
    // retention erases it).
    let mut database = sqlx::AnyConnection::connect(&deployment.database).await.expect("the booking database");
    let (email, phone): (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT contact_email, contact_phone FROM appointments WHERE id = '{appointment}'"
    )))
    .fetch_one(&mut database)
    .await
    .expect("the appointment's contact");
    assert_eq!((email.as_str(), phone.as_str()), (EMAIL, PHONE));
    // The feedback is stored without the identity code, address and
    // number typed into it.
    let (stored_comment,): (String,) =
        sqlx::query_as("SELECT comment FROM feedback").fetch_one(&mut database).await.expect("the feedback");
    assert!(stored_comment.contains("kiitos"), "{stored_comment}");
    for typed in [IDENTITY_CODE, EMAIL, PHONE] {
        assert!(!stored_comment.contains(typed), "{typed} stored in the feedback: {stored_comment}");
    }

    // An advisor names an agency by typing it: the code reaches no label.
    let mut typed_kiosk = gateway.connect("kiosk-inari-1", Role::Kiosk, "sp-inari", &["fi"]).await;
    let mut typed_advisor = gateway.connect("advisor-inari-1", Role::Advisor, "sp-inari", &["fi"]).await;
    let typed_room = open_and_queue(&mut typed_advisor, "kiosk-inari-1", TYPED_AGENCY, "fi").await;
    typed_kiosk.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await;
    let leader_metrics = deployment
        .http
        .get(format!("http://{}/metrics", deployment.signals[leader].address))
        .send()
        .await
        .expect("the leader's metrics")
        .text()
        .await
        .expect("text");
    assert!(leader_metrics.contains("silta_queue_waiting{agency=\"other\"} 1"), "{leader_metrics}");
    assert!(leader_metrics.contains("silta_queue_waiting{agency=\"VERO\"} 0"), "{leader_metrics}");
    typed_advisor.ok(json!({"type": "session_end", "room": typed_room, "outcome": "abandoned"})).await;

    // Let the exporters run (spans every 100 ms, metrics every second),
    // then look everywhere.
    tokio::time::sleep(Duration::from_secs(3)).await;
    kiosk_peer.close().await;
    let markers = [NAME, "Meikäläinen", IDENTITY_CODE, EMAIL, "maija.testinen", PHONE, "401234567", TYPED_AGENCY];
    let mut places: Vec<(String, String)> = Vec::new();
    for span in deployment.otlp.spans() {
        places.push((format!("span {} of {}", span.name, span.service), format!("{span:?}")));
    }
    places.push(("OTLP metrics".into(), deployment.otlp.metrics_text()));
    for (process, text) in deployment.scrapes().await {
        places.push((format!("/metrics of {process}"), text));
    }
    let mut log_lines = 0;
    for entry in std::fs::read_dir(&deployment.logs).expect("the logs") {
        let path = entry.expect("a log").path();
        let text = std::fs::read_to_string(&path).expect("a log file");
        log_lines += text.lines().count();
        places.push((format!("log {}", path.display()), text));
    }
    assert!(log_lines > 50, "the processes logged at debug level ({log_lines} lines)");
    assert!(deployment.otlp.spans().len() > 20, "spans were exported");
    for (place, text) in &places {
        for marker in markers {
            assert!(!text.contains(marker), "{marker:?} appears in the {place}");
        }
    }
}

/// Series per metric name in a scrape, and every label value seen.
fn series(scrapes: &[(String, String)]) -> (BTreeMap<String, usize>, BTreeSet<String>) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut values = BTreeSet::new();
    for (process, text) in scrapes {
        for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            *counts.entry(format!("{process}:{name}")).or_default() += 1;
            if let Some(labels) =
                line.split_once('{').and_then(|(_, rest)| rest.split_once('}')).map(|(labels, _)| labels)
            {
                for pair in labels.split("\",") {
                    if let Some((_, value)) = pair.split_once("=\"") {
                        values.insert(value.trim_end_matches('"').to_owned());
                    }
                }
            }
        }
    }
    (counts, values)
}

async fn catalogue() {
    let deployment = Deployment::start("warn").await;
    let leader = deployment.leader().await;
    let node = &deployment.signals[leader];
    let gateway = &deployment.signals[1 - leader];
    let mut kiosk = gateway.connect("kiosk-kemi-1", Role::Kiosk, "sp-kemi", &["fi"]).await;
    let mut advisor = gateway.connect("advisor-kemi-1", Role::Advisor, "sp-kemi", &["fi"]).await;
    let mut expert = node.connect("expert-vero-1", Role::Expert, "VERO", &["fi"]).await;

    // Media for a few seconds (the media node's counters, latency, loss and
    // round-trip times; join times), a booking and its cancellation, an
    // error, a request left waiting in Kela's queue.
    let (media_room, media_kiosk, media_advisor) = opened_session(gateway, "sp-inari").await;
    let kiosk_peer = Peer::join(media_kiosk, media_room.clone(), PeerOptions::default()).await.expect("kiosk");
    let advisor_peer = Peer::join(media_advisor, media_room.clone(), PeerOptions::default()).await.expect("advisor");
    wait_until(Duration::from_secs(10), "media both ways", || {
        [&kiosk_peer, &advisor_peer].iter().all(|peer| peer.received().iter().any(|track| track.stats.received > 50))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let booked = deployment.book(json!({"email": "someone@example.org"}), &[]).await;
    let id = booked["id"].as_str().expect("an id");
    deployment.advisor_posts(&format!("/api/v1/appointments/{id}/cancel")).await;
    advisor.refused(json!({"type": "join", "room": "no-such-room"})).await;
    let mut rooms = vec![media_room.as_str().to_owned()];
    for _ in 0..10 {
        rooms.push(session(&mut advisor, &mut kiosk, &mut expert).await);
    }
    let mut waiting_kiosk = gateway.connect("kiosk-kuusamo-1", Role::Kiosk, "sp-kuusamo", &["fi"]).await;
    let mut waiting_advisor = gateway.connect("advisor-kuusamo-1", Role::Advisor, "sp-kuusamo", &["fi"]).await;
    let waiting_room = open_and_queue(&mut waiting_advisor, "kiosk-kuusamo-1", "KELA", "fi").await;
    rooms.push(waiting_room.clone());
    waiting_kiosk.wait_for(|m| matches!(m, ServerMessage::QueueStatus(_))).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Every name the dashboard and the alert rules use is scraped.
    let all: String = deployment.scrapes().await.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>().join("\n");
    let catalogue = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/observability/metrics.txt"),
    )
    .expect("the operator views' metric catalogue");
    let mut missing = Vec::new();
    for name in catalogue.lines().map(str::trim).filter(|name| !name.is_empty() && !name.starts_with('#')) {
        // The TLS certificate's expiry is exported by listeners with TLS
        // (tested in the signal suite's deployment endpoints).
        if name == "silta_tls_certificate_expiry_timestamp_seconds" {
            continue;
        }
        let present = [format!("\n{name} "), format!("\n{name}{{"), format!("\n{name}_bucket{{")]
            .iter()
            .any(|prefix| all.contains(prefix.as_str()));
        if !present {
            missing.push(name.to_owned());
        }
    }
    assert!(missing.is_empty(), "not exported: {missing:?}\n{all}");
    // The same figures reached the OTLP receiver.
    wait_until(Duration::from_secs(10), "metrics pushed over OTLP", || {
        let names = deployment.otlp.metric_names();
        ["silta_signal_messages", "silta_sfu_forwarded_packets", "silta_booking_appointments"]
            .iter()
            .all(|name| names.iter().any(|received| received == name))
    })
    .await;

    // The waiting request is given up; then ninety sessions more: no metric
    // gains a series, and no label holds a room or participant id.
    waiting_advisor.ok(json!({"type": "session_end", "room": waiting_room, "outcome": "abandoned"})).await;
    waiting_kiosk.wait_for(|m| matches!(m, ServerMessage::SessionEnded(_))).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_ten = deployment.scrapes().await;
    for _ in 0..90 {
        rooms.push(session(&mut advisor, &mut kiosk, &mut expert).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_hundred = deployment.scrapes().await;
    let (ten, _) = series(&after_ten);
    let (hundred, values) = series(&after_hundred);
    let grown: HashMap<&String, (usize, usize)> = hundred
        .iter()
        .filter_map(|(name, count)| {
            let before = ten.get(name).copied().unwrap_or(0);
            (*count > before).then_some((name, (before, *count)))
        })
        .collect();
    assert!(grown.is_empty(), "series grew with sessions: {grown:?}");
    let participants: Vec<String> =
        [&kiosk, &advisor, &expert].iter().map(|client| client.welcome().participant.as_str().to_owned()).collect();
    for value in &values {
        assert!(
            !rooms.iter().chain(&participants).any(|id| value.contains(id.as_str())),
            "a label holds a room or participant id: {value}"
        );
    }
    assert!(values.len() < 200, "{} label values: {values:?}", values.len());
    kiosk_peer.close().await;
    advisor_peer.close().await;
}
