//! The call's data channel: what participants send one another besides
//! media (text typed live, documents: `documents`) passes through the node on each
//! peer's one data channel labelled [`CALL_CHANNEL_LABEL`], held only in
//! memory while on its way, never logged or counted by its content.
//!
//! A participant's message is a frame it addresses:
//! `[n][len₁][participant₁]…[lenₙ][participantₙ][payload]` — `n` (one byte)
//! participants of the room, each a byte of length and its id; `n = 0`
//! means everyone else in the room. Each recipient gets
//! `[len][sender][payload]`: the sender's participant id as the node knows
//! it, so nobody can write in another's name. The payload is opaque here.
//! A frame larger than [`MAX_CALL_MESSAGE`], a malformed one, or a copy for
//! a recipient whose channel cannot take it now (its send buffer is full) is
//! dropped and counted; senders keep their messages small and self-healing
//! (live text sends the whole line being typed).

use str0m::channel::{ChannelData, ChannelId};

use super::documents;
use super::*;

/// The label of the data channel a participant opens to the node.
pub const CALL_CHANNEL_LABEL: &str = "silta";

/// The largest frame a participant may send on the call channel.
pub const MAX_CALL_MESSAGE: usize = 64 * 1024;

/// A frame's addressees and payload; `None` when it is malformed.
fn parse_frame(frame: &[u8]) -> Option<(Vec<&str>, &[u8])> {
    let (&count, mut rest) = frame.split_first()?;
    let mut addressees = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (&length, after) = rest.split_first()?;
        let length = usize::from(length);
        if length == 0 || after.len() < length {
            return None;
        }
        addressees.push(std::str::from_utf8(&after[..length]).ok()?);
        rest = &after[length..];
    }
    Some((addressees, rest))
}

impl SfuCore {
    /// A peer opened a data channel: the call channel is remembered, any
    /// other is left alone (nothing is relayed on it).
    pub(super) fn channel_opened(&mut self, key: PeerKey, id: ChannelId, label: &str) {
        if label != CALL_CHANNEL_LABEL {
            return;
        }
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.channel = Some(id);
        }
    }

    pub(super) fn channel_closed(&mut self, key: PeerKey, id: ChannelId) {
        if let Some(peer) = self.peers.get_mut(&key)
            && peer.channel == Some(id)
        {
            peer.channel = None;
        }
    }

    /// A frame from a peer's call channel: a copy to each addressee (or
    /// everyone else in the room) that has its call channel open.
    pub(super) fn relay_channel(&mut self, key: PeerKey, data: ChannelData, now: Instant) {
        let Some(sender) = self.peers.get(&key) else { return };
        if sender.channel != Some(data.id) {
            return;
        }
        let parsed = if data.data.len() > MAX_CALL_MESSAGE { None } else { parse_frame(&data.data) };
        let Some((addressees, payload)) = parsed else {
            self.counters.channel_dropped += 1;
            return;
        };
        let from = sender.participant.as_str().as_bytes();
        let Ok(from_length) = u8::try_from(from.len()) else {
            self.counters.channel_dropped += 1;
            return;
        };
        let mut frame = Vec::with_capacity(1 + from.len() + payload.len());
        frame.push(from_length);
        frame.extend_from_slice(from);
        frame.extend_from_slice(payload);
        let others: Vec<PeerKey> =
            self.rooms.get(&sender.room).into_iter().flatten().copied().filter(|member| *member != key).collect();
        let named = (!addressees.is_empty()).then(|| {
            others
                .iter()
                .copied()
                .filter(|member| {
                    self.peers.get(member).is_some_and(|peer| addressees.contains(&peer.participant.as_str()))
                })
                .collect::<Vec<_>>()
        });
        let recipients = if documents::is_document_frame(payload) {
            match self.document_frame(key, payload, others, named, now) {
                documents::Verdict::Pass(recipients) => recipients,
                documents::Verdict::Refuse(id, reason) => {
                    self.counters.channel_dropped += 1;
                    self.write_channel(key, &documents::refusal_frame(id, reason), now);
                    return;
                }
            }
        } else {
            named.unwrap_or(others)
        };
        for member in recipients {
            if self.write_channel(member, &frame, now) {
                self.counters.channel_relayed += 1;
            } else {
                self.counters.channel_dropped += 1;
            }
        }
    }

    /// Writes a frame on a peer's call channel; false when it has none
    /// open or its send buffer cannot take the frame now.
    fn write_channel(&mut self, key: PeerKey, frame: &[u8], now: Instant) -> bool {
        let written = self.guard(key, now, |peer| {
            let Some(id) = peer.channel else { return false };
            let Some(mut channel) = peer.rtc.channel(id) else { return false };
            matches!(channel.write(true, frame), Ok(true))
        });
        if written != Some(true) {
            return false;
        }
        if !self.dirty.contains(&key) {
            self.dirty.push(key);
        }
        self.drain(key, now);
        true
    }
}

#[cfg(test)]
mod frame_tests {
    use super::parse_frame;

    #[test]
    fn a_frame_names_its_addressees_before_the_payload() {
        assert_eq!(parse_frame(b"\0hello"), Some((vec![], &b"hello"[..])));
        assert_eq!(parse_frame(b"\x02\x01a\x02bcpayload"), Some((vec!["a", "bc"], &b"payload"[..])));
        assert_eq!(parse_frame(b"\x01\x01a"), Some((vec!["a"], &b""[..])));
    }

    #[test]
    fn a_malformed_frame_is_refused() {
        assert_eq!(parse_frame(b""), None);
        assert_eq!(parse_frame(b"\x01"), None);
        assert_eq!(parse_frame(b"\x01\x05ab"), None);
        assert_eq!(parse_frame(b"\x01\x00rest"), None);
        assert_eq!(parse_frame(b"\x01\x02\xff\xfe"), None);
    }
}
