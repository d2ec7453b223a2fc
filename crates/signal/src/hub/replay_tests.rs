//! The hub's inputs replay: a whole service session sent as JSON envelopes
//! (the form they take between processes), replayed into an empty hub,
//! gives the same steps and the same state.

use serde_json::{Value, json};
use silta_proto::v1::hub::{HubEnvelope, HubReply, HubStep};

use super::{Hub, HubSettings};

/// A hub fed JSON envelopes, keeping the log of what it was fed and what it
/// answered.
struct Recorded {
    hub: Hub,
    now: u64,
    inputs: Vec<String>,
    steps: Vec<String>,
}

impl Recorded {
    fn new() -> Self {
        Self { hub: Hub::new(HubSettings::default()), now: 1_800_000_000_000, inputs: Vec::new(), steps: Vec::new() }
    }

    /// Sends `input` `after_ms` after the previous one.
    fn send(&mut self, after_ms: u64, input: Value) -> HubStep {
        self.now += after_ms;
        let text = json!({"at": self.now, "input": input}).to_string();
        let envelope: HubEnvelope = serde_json::from_str(&text).expect("the envelope fits the schema");
        let step = self.hub.step(envelope);
        self.inputs.push(text);
        self.steps.push(serde_json::to_string(&step).expect("a step serialises"));
        step
    }
}

fn bearer(subject: &str, role: &str, organisation: &str, languages: &[&str]) -> Value {
    json!({"subject": subject, "role": role, "organisation": organisation, "languages": languages, "expires_at": 4_000_000_000u64})
}

fn attach(hub: &mut Recorded, bearer: Value, n: u32, resume: Option<&str>) -> (String, u64, String) {
    let mut input = json!({
        "type": "attach", "bearer": bearer, "new_participant": format!("p-{n:032x}"), "new_resume_token": format!("rt-{n:032x}"),
    });
    if let Some(token) = resume {
        input["resume_token"] = json!(token);
    }
    match hub.send(1, input).reply {
        HubReply::Attached { participant, epoch, welcome, .. } => {
            (participant.as_str().to_owned(), epoch, welcome.resume_token)
        }
        other => panic!("attach was answered with {other:?}"),
    }
}

fn client(participant: &str, epoch: u64, message: Value) -> Value {
    json!({"type": "client", "participant": participant, "epoch": epoch, "message": message})
}

fn answered(step: &HubStep) -> &str {
    match &step.reply {
        HubReply::Answer { message } => match serde_json::to_value(message).expect("serialises")["type"].as_str() {
            Some("ack") => "ack",
            Some("joined") => "joined",
            Some("error") => "error",
            _ => "other",
        },
        HubReply::Forward { .. } => "forward",
        _ => "none",
    }
}

#[test]
fn a_whole_session_replays_to_the_same_steps_and_state() {
    let mut original = Recorded::new();
    let (kiosk, kiosk_epoch, kiosk_token) =
        attach(&mut original, bearer("kiosk-1", "kiosk", "sp-kemi", &["fi"]), 1, None);
    let (advisor, advisor_epoch, _) =
        attach(&mut original, bearer("advisor-1", "advisor", "sp-kemi", &["fi", "sv"]), 2, None);
    let (expert, expert_epoch, _) =
        attach(&mut original, bearer("expert-vero", "expert", "VERO", &["fi", "sv"]), 3, None);
    let (interpreter, interpreter_epoch, _) =
        attach(&mut original, bearer("interp-sv", "interpreter", "TULKIT", &["sv", "fi"]), 4, None);

    let open = client(&advisor, advisor_epoch, json!({"type": "session_open", "id": "1", "kiosk": "kiosk-1"}));
    let mut open = open;
    open["new_room"] = json!("r-00000000000000000000000000000001");
    assert_eq!(answered(&original.send(40, open)), "joined");
    let room = "r-00000000000000000000000000000001";
    let request = json!({"type": "expert_request", "id": "2", "room": room,
        "target": {"by": "queue", "agency": "VERO", "language": "fi"}});
    assert_eq!(answered(&original.send(3_000, client(&advisor, advisor_epoch, request))), "ack");
    original.send(200, json!({"type": "tick"}));
    let accept = json!({"type": "call_accept", "id": "3", "room": room});
    assert_eq!(answered(&original.send(4_000, client(&expert, expert_epoch, accept))), "joined");
    let offer = json!({"type": "sdp_offer", "id": "4", "room": room, "sdp": "v=0"});
    assert_eq!(answered(&original.send(10, client(&expert, expert_epoch, offer))), "forward");
    original.send(
        5,
        json!({"type": "media", "change": {"kind": "event", "event": {"type": "active_speaker", "room": room, "participant": expert}}}),
    );
    let invite =
        json!({"type": "interpreter_invite", "id": "5", "room": room, "target": {"by": "language", "language": "sv"}});
    assert_eq!(answered(&original.send(60_000, client(&expert, expert_epoch, invite))), "ack");
    let accept = json!({"type": "call_accept", "id": "6", "room": room});
    assert_eq!(answered(&original.send(7_000, client(&interpreter, interpreter_epoch, accept))), "joined");
    // The media node is lost: the room moves, nobody leaves.
    original.send(30_000, json!({"type": "media", "change": {"kind": "moved", "room": room}}));
    let failed =
        json!({"type": "add_participant", "room": room, "participant": kiosk, "publish": true, "subscribe": true});
    original.send(3, json!({"type": "media", "change": {"kind": "failed", "command": failed, "reason": "timed out"}}));
    // The kiosk's network drops and comes back within the window.
    original.send(
        1_000,
        json!({"type": "detach", "participant": kiosk, "epoch": kiosk_epoch, "last_heard": original.now - 3_000}),
    );
    original.send(2_000, json!({"type": "tick"}));
    let (resumed, _, _) = attach(&mut original, bearer("kiosk-1", "kiosk", "sp-kemi", &["fi"]), 5, Some(&kiosk_token));
    assert_eq!(resumed, kiosk, "the kiosk resumed as the same participant");
    // A request of the superseded connection is refused.
    let late = json!({"type": "advisor_call", "id": "7", "room": room});
    assert_eq!(answered(&original.send(10, client(&kiosk, kiosk_epoch, late))), "error");
    let check_in = json!({"type": "booking", "change": {"kind": "checked_in", "expert": "expert-vero",
        "appointment": "a1", "room": "appt-a1", "service_point": "sp-kemi"}});
    assert!(matches!(original.send(100, check_in).reply, HubReply::Told { count: 1 }));
    let end = json!({"type": "session_end", "id": "8", "room": room, "outcome": "resolved"});
    assert_eq!(answered(&original.send(120_000, client(&expert, expert_epoch, end))), "ack");
    // The next session is a booked one: its room is named.
    let booked = json!({"type": "session_open", "id": "9", "kiosk": "kiosk-1", "room": "appt-a2"});
    assert_eq!(answered(&original.send(60_000, client(&advisor, advisor_epoch, booked))), "joined");
    // The advisor drops and never comes back: the window passes; the
    // citizen's session goes on.
    let last_heard = original.now;
    original.send(
        1_000,
        json!({"type": "detach", "participant": advisor, "epoch": advisor_epoch, "last_heard": last_heard}),
    );
    original.send(31_000, json!({"type": "tick"}));
    assert_eq!(original.hub.client_count(), 3, "the advisor's session expired");
    let booked_room = silta_proto::v1::RoomId::parse("appt-a2").unwrap();
    assert_eq!(original.hub.room_members(&booked_room), vec![silta_proto::v1::ParticipantId::parse(&kiosk).unwrap()]);

    // Replayed from its JSON log into an empty hub: the same steps, the same
    // state.
    let mut replica = Hub::new(HubSettings::default());
    for (input, recorded) in original.inputs.iter().zip(&original.steps) {
        let envelope: HubEnvelope = serde_json::from_str(input).expect("the log reads back");
        let step = serde_json::to_string(&replica.step(envelope)).expect("a step serialises");
        assert_eq!(&step, recorded, "replaying {input}");
    }
    assert_eq!(format!("{replica:?}"), format!("{:?}", original.hub));

    // From a snapshot taken halfway (the hub through JSON) and the rest of
    // the log: the same steps, the same state — how a signal node starts
    // from a snapshot and the journal after it.
    let half = original.inputs.len() / 2;
    let mut first_half = Hub::new(HubSettings::default());
    for input in &original.inputs[..half] {
        first_half.step(serde_json::from_str(input).expect("the log reads back"));
    }
    let snapshot = serde_json::to_string(&first_half).expect("a hub serialises");
    let mut restored =
        serde_json::from_str::<Hub>(&snapshot).expect("a snapshot reads back").with_settings(HubSettings::default());
    assert_eq!(format!("{restored:?}"), format!("{first_half:?}"));
    for (input, recorded) in original.inputs[half..].iter().zip(&original.steps[half..]) {
        let step = serde_json::to_string(&restored.step(serde_json::from_str(input).expect("the log reads back")));
        assert_eq!(&step.expect("a step serialises"), recorded, "replaying {input} after the snapshot");
    }
    assert_eq!(format!("{restored:?}"), format!("{:?}", original.hub));
}

#[test]
fn inputs_that_do_not_fit_are_answered_not_applied() {
    let mut hub = Recorded::new();
    // An organisation that does not fit the role.
    let step = hub.send(
        1,
        json!({"type": "attach", "bearer": bearer("kiosk-9", "kiosk", "not a service point", &["fi"]),
        "new_participant": "p-1", "new_resume_token": "rt-1"}),
    );
    assert!(
        matches!(&step.reply, HubReply::Answer { message } if serde_json::to_value(message).unwrap()["code"] == "token_invalid")
    );
    // A request of a participant the hub does not know.
    let step = hub.send(1, client("p-2", 1, json!({"type": "ping", "id": "1"})));
    assert_eq!(answered(&step), "error");
    // A session opened with no room id given either way.
    let (advisor, epoch, _) = attach(&mut hub, bearer("advisor-1", "advisor", "sp-kemi", &["fi"]), 3, None);
    let step = hub.send(1, client(&advisor, epoch, json!({"type": "session_open", "id": "2", "kiosk": "kiosk-1"})));
    assert_eq!(answered(&step), "error");
    assert_eq!(hub.hub.client_count(), 1);
    assert!(serde_json::from_str::<HubEnvelope>(r#"{"at": 1, "input": {"type": "launch"}}"#).is_err());
}
