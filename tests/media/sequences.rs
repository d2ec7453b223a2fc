//! Random walks through a long call: Rust peers (webrtc crate) through the
//! real signal service and SFU, driven through seeded random sequences of
//! what happens in real calls — the advisor steps out and comes back, an
//! interpreter joins and leaves, the expert transfers to another agency and
//! leaves. After every step: everyone in the room receives everyone else's
//! current tracks, nobody was dropped, and the session descriptions stay
//! bounded by the most people ever in the room at once (the SFU recycles
//! the m-lines of those who left).

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use silta_loadgen::{Peer, PeerOptions, SignalClient};
use silta_proto::v1::signal::ServerMessage;
use silta_proto::v1::{Role, RoomId};
use silta_tests::media::{MediaStack, spawn_media_stack};

use crate::forwarding::client;

pub fn scenarios() -> Vec<super::Scenario> {
    vec![("random_call_sequences_keep_everyone_receiving_everyone", || random_sequences(&[7, 1234], 12).boxed())]
}

/// The people who may be in the call, beside the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Person {
    Advisor,
    Interpreter,
    Vero,
    Kela,
}

impl Person {
    fn subject(self) -> &'static str {
        match self {
            Person::Advisor => "advisor-1",
            Person::Interpreter => "interpreter-sv-1",
            Person::Vero => "expert-vero-1",
            Person::Kela => "expert-kela-1",
        }
    }

    fn role(self) -> Role {
        match self {
            Person::Advisor => Role::Advisor,
            Person::Interpreter => Role::Interpreter,
            Person::Vero | Person::Kela => Role::Expert,
        }
    }

    fn organisation(self) -> &'static str {
        match self {
            Person::Advisor => "sp-kemi",
            Person::Interpreter => "TULKIT",
            Person::Vero => "VERO",
            Person::Kela => "KELA",
        }
    }
}

/// One person's connected peer and participant id.
struct Member {
    participant: String,
    peer: Peer,
}

/// A small deterministic generator (xorshift), so a failing sequence can be
/// replayed from its seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// The call: the kiosk and whoever is in the room now.
struct Call {
    stack: MediaStack,
    room: RoomId,
    kiosk: Member,
    members: BTreeMap<Person, Member>,
    /// The most people ever in the room with the kiosk at once (kiosk
    /// included).
    most_present: usize,
}

async fn connect(stack: &MediaStack, person: Person) -> (SignalClient, String) {
    let mut signal = client(&stack.signal, person.subject(), person.role(), person.organisation()).await;
    if matches!(person.role(), Role::Expert | Role::Interpreter) {
        signal.request(json!({"type": "presence_set", "status": "available"})).await.expect("presence");
    }
    let participant = signal.welcome.participant.to_string();
    (signal, participant)
}

impl Call {
    async fn start(seed: u64) -> Call {
        let stack = spawn_media_stack(|_| {}).await;
        let kiosk_signal = client(&stack.signal, "kiosk-1", Role::Kiosk, "sp-kemi").await;
        let kiosk_participant = kiosk_signal.welcome.participant.to_string();
        let (mut advisor, advisor_participant) = connect(&stack, Person::Advisor).await;
        let ServerMessage::Joined(joined) =
            advisor.request(json!({"type": "session_open", "kiosk": "kiosk-1"})).await.expect("session opens")
        else {
            panic!("session_open replies joined")
        };
        let room = joined.room.room;
        let (mut vero, vero_participant) = connect(&stack, Person::Vero).await;
        advisor
            .request(
                json!({"type": "expert_request", "room": room, "target": {"by": "person", "subject": "expert-vero-1"}}),
            )
            .await
            .expect("expert request");
        vero.request(json!({"type": "call_accept", "room": room})).await.expect("the expert accepts");
        let kiosk = Member {
            participant: kiosk_participant,
            peer: Peer::join(kiosk_signal, room.clone(), PeerOptions::default()).await.expect("kiosk peer"),
        };
        let mut members = BTreeMap::new();
        for (person, signal, participant) in
            [(Person::Advisor, advisor, advisor_participant), (Person::Vero, vero, vero_participant)]
        {
            let peer = Peer::join(signal, room.clone(), PeerOptions::default()).await.expect("peer");
            members.insert(person, Member { participant, peer });
        }
        println!("  seed {seed}: kiosk, advisor and Vero's expert in the call");
        Call { stack, room, kiosk, members, most_present: 3 }
    }

    fn expert(&self) -> Person {
        if self.members.contains_key(&Person::Vero) { Person::Vero } else { Person::Kela }
    }

    /// Someone in the room asks; `person` accepts and joins with a new peer.
    async fn bring_in(&mut self, person: Person, asked_by: Person, request: serde_json::Value) {
        let (mut signal, participant) = connect(&self.stack, person).await;
        self.members[&asked_by].peer.request(request).await.expect("the invitation is sent");
        signal.request(json!({"type": "call_accept", "room": self.room})).await.expect("the invitation is accepted");
        let peer = Peer::join(signal, self.room.clone(), PeerOptions::default()).await.expect("the peer connects");
        self.members.insert(person, Member { participant, peer });
        self.most_present = self.most_present.max(self.members.len() + 1);
    }

    async fn leave(&mut self, person: Person) {
        let member = self.members.remove(&person).expect("present");
        member.peer.request(json!({"type": "leave", "room": self.room})).await.expect("leave");
        member.peer.close().await;
    }

    /// One random step that real calls take; returns what it did.
    async fn step(&mut self, dice: &mut Dice) -> &'static str {
        match dice.roll(4) {
            0 if self.members.contains_key(&Person::Advisor) => {
                self.leave(Person::Advisor).await;
                "the advisor steps out"
            }
            0 => {
                // The advisor comes back (called back by the kiosk).
                let (mut signal, participant) = connect(&self.stack, Person::Advisor).await;
                signal.request(json!({"type": "join", "room": self.room})).await.expect("the advisor rejoins");
                let peer = Peer::join(signal, self.room.clone(), PeerOptions::default()).await.expect("peer");
                self.members.insert(Person::Advisor, Member { participant, peer });
                self.most_present = self.most_present.max(self.members.len() + 1);
                "the advisor comes back"
            }
            1 if self.members.contains_key(&Person::Interpreter) => {
                self.leave(Person::Interpreter).await;
                "the interpreter leaves"
            }
            1 => {
                let invite = json!({"type": "interpreter_invite", "room": self.room,
                    "target": {"by": "person", "subject": Person::Interpreter.subject()}});
                self.bring_in(Person::Interpreter, self.expert(), invite).await;
                "an interpreter joins"
            }
            2 => {
                // The expert transfers to the other agency's expert and leaves.
                let from = self.expert();
                let to = if from == Person::Vero { Person::Kela } else { Person::Vero };
                let transfer = json!({"type": "transfer", "room": self.room,
                    "target": {"by": "person", "subject": to.subject()}});
                self.bring_in(to, from, transfer).await;
                self.check("both experts during the transfer").await;
                self.leave(from).await;
                "a transfer to the other agency"
            }
            _ => {
                // A participant restarts ICE (a network change).
                let people: Vec<Person> = self.members.keys().copied().collect();
                let person = people[dice.roll(people.len())];
                self.members[&person].peer.ice_restart(&self.room).await.expect("ICE restart");
                "an ICE restart"
            }
        }
    }

    /// Waits until every peer receives exactly the current others' audio
    /// and video, and checks the session descriptions.
    async fn check(&self, after: &str) {
        let everyone: Vec<&Member> = std::iter::once(&self.kiosk).chain(self.members.values()).collect();
        let streams = 2 * (everyone.len() - 1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mut problems = Vec::new();
            for member in &everyone {
                let now = silta_loadgen::probe::now_micros();
                let flowing = member
                    .peer
                    .received()
                    .iter()
                    .filter(|track| track.stats.last_arrival_us.is_some_and(|at| now.saturating_sub(at) < 400_000))
                    .count();
                if flowing != streams {
                    problems.push(format!("{} receives {flowing} streams, not {streams}", member.participant));
                }
                let sdp = member.peer.remote_sdp().await.unwrap_or_default();
                let sending = sending_stream_ids(&sdp);
                let mut expected: Vec<String> = everyone
                    .iter()
                    .filter(|other| other.participant != member.participant)
                    .flat_map(|other| [other.participant.clone(), other.participant.clone()])
                    .collect();
                expected.sort();
                if sending != expected {
                    problems.push(format!("{} is sent {sending:?}, not {expected:?}", member.participant));
                }
                // Two own m-lines, two for each other person ever present at once.
                let mlines = sdp.matches("\nm=").count();
                assert!(
                    mlines <= 2 * self.most_present,
                    "after {after}: {} holds {mlines} m-lines with at most {} people present ({} bytes)",
                    member.participant,
                    self.most_present,
                    sdp.len()
                );
                // Right after an ICE restart the connection may pass through
                // `connecting` once more; a peer that stays out of
                // `connected` until the deadline was dropped.
                if format!("{:?}", member.peer.state()) != "Connected" {
                    problems.push(format!("{} was dropped ({:?})", member.participant, member.peer.state()));
                }
            }
            if problems.is_empty() {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "after {after}: {}", problems.join("; "));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The stream ids (msid) of the m-lines the media node sends on, sorted.
fn sending_stream_ids(sdp: &str) -> Vec<String> {
    let mut ids: Vec<String> = sdp
        .split("\nm=")
        .skip(1)
        .filter(|section| section.lines().any(|line| line.trim() == "a=sendonly"))
        .filter_map(|section| {
            section.lines().find_map(|line| line.trim().strip_prefix("a=msid:")?.split(' ').next().map(str::to_owned))
        })
        .collect();
    ids.sort();
    ids
}

async fn random_sequences(seeds: &[u64], steps: usize) {
    for &seed in seeds {
        let mut call = Call::start(seed).await;
        call.check("the call starts").await;
        let mut dice = Dice(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        for number in 1..=steps {
            let what = call.step(&mut dice).await;
            let after = format!("step {number} ({what}, seed {seed})");
            call.check(&after).await;
            println!("  seed {seed} step {number}: {what}; {} in the call", call.members.len() + 1);
        }
        let counters = call.stack.sfu.counters().await;
        assert_eq!(counters.peer_panics, 0);
    }
}
