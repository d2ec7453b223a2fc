//! Keyframes: recognising them in RTP payloads without decoding, so a
//! layer switch happens where the subscriber's decoder can start, and
//! asking publishers for them (throttled per layer; a request inside the
//! window is deferred to its end, never dropped).

use str0m::format::Codec;

use std::time::Instant;

use str0m::Input;
use str0m::media::MediaKind;

use super::{KeyframeRequestKind, Mid, PeerKey, Rid, SfuCore, Source};

impl SfuCore {
    pub(super) fn source_rids(&self, source: Source) -> Vec<Option<Rid>> {
        let Some(incoming) = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)) else {
            return vec![None];
        };
        if incoming.simulcast { incoming.layers.keys().copied().collect() } else { vec![None] }
    }

    /// Asks the publishers of these sources for a keyframe of every layer
    /// (audio sources are passed over).
    pub(super) fn request_keyframes(&mut self, sources: Vec<Source>, now: Instant) {
        for source in sources.into_iter().filter(|source| source.kind == MediaKind::Video) {
            for rid in self.source_rids(source) {
                self.request_keyframe(source.peer, source.mid, rid, KeyframeRequestKind::Pli, now);
            }
        }
    }

    /// A keyframe of each video source a subscriber is sent, as its
    /// connection comes up.
    pub(super) fn request_keyframes_for(&mut self, subscriber: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get(&subscriber) else { return };
        let sources: Vec<Source> = peer
            .outgoing
            .values()
            .filter(|outgoing| outgoing.active && !outgoing.idle)
            .map(|outgoing| outgoing.source)
            .collect();
        self.request_keyframes(sources, now);
    }

    pub(super) fn request_keyframe(
        &mut self,
        publisher: PeerKey,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let throttle = self.config.keyframe_throttle;
        let Some(peer) = self.peers.get_mut(&publisher) else { return };
        let Some(incoming) = peer.incoming.get_mut(&mid) else { return };
        if let Some(at) = incoming.last_keyframe_request.get(&rid).copied()
            && now.duration_since(at) < throttle
        {
            // Coalesced: one request goes out when the window ends (a FIR
            // wins over a PLI).
            let deferred = incoming.deferred_keyframes.entry(rid).or_insert(kind);
            if kind == KeyframeRequestKind::Fir {
                *deferred = kind;
            }
            let due = at + throttle;
            self.next_deferred_keyframe = Some(self.next_deferred_keyframe.map_or(due, |next| next.min(due)));
            return;
        }
        incoming.last_keyframe_request.insert(rid, now);
        incoming.deferred_keyframes.remove(&rid);
        let sent = self.guard(publisher, now, |peer| {
            let found = match peer.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                Some(stream) => {
                    stream.request_keyframe(kind);
                    true
                }
                None => false,
            };
            if found {
                let _ = peer.rtc.handle_input(Input::Timeout(now));
            }
            found
        });
        if sent == Some(true) {
            self.counters.keyframe_requests += 1;
            self.drain(publisher, now);
        }
    }

    /// Sends the keyframe requests whose throttle window has ended.
    pub(super) fn send_deferred_keyframes(&mut self, now: Instant) {
        self.next_deferred_keyframe = None;
        let mut due = Vec::new();
        for (key, peer) in &self.peers {
            for (mid, incoming) in &peer.incoming {
                for (rid, kind) in &incoming.deferred_keyframes {
                    due.push((*key, *mid, *rid, *kind));
                }
            }
        }
        // Requests still inside their window are deferred again.
        for (key, mid, rid, kind) in due {
            self.request_keyframe(key, mid, rid, kind, now);
        }
    }
}

/// Whether `payload` starts a keyframe of `codec`. Unknown codecs answer
/// false (the switch then waits for the next recognised keyframe).
pub fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8(payload),
        Codec::H264 => h264(payload),
        Codec::Vp9 => vp9(payload),
        _ => false,
    }
}

/// RFC 7741: payload descriptor, then (at a partition start) the VP8
/// header whose lowest bit P is 0 for a key frame.
fn vp8(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x0f;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut offset = 1;
    if first & 0x80 != 0 {
        let Some(&extension) = payload.get(offset) else { return false };
        offset += 1;
        if extension & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            let Some(&picture) = payload.get(offset) else { return false };
            offset += if picture & 0x80 != 0 { 2 } else { 1 };
        }
        if extension & 0x40 != 0 {
            offset += 1; // TL0PICIDX
        }
        if extension & 0x30 != 0 {
            offset += 1; // TID / KEYIDX
        }
    }
    payload.get(offset).is_some_and(|header| header & 0x01 == 0)
}

/// RFC 6184: an IDR slice (5) or SPS (7), directly or in a STAP-A (24) or at
/// the start of an FU-A (28).
fn h264(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else { return false };
    match header & 0x1f {
        5 | 7 => true,
        24 => {
            let mut offset = 1;
            while offset + 2 < payload.len() {
                let size = usize::from(u16::from_be_bytes([payload[offset], payload[offset + 1]]));
                if let Some(&nal) = payload.get(offset + 2)
                    && matches!(nal & 0x1f, 5 | 7)
                {
                    return true;
                }
                offset += 2 + size;
            }
            false
        }
        28 => payload.get(1).is_some_and(|fu| fu & 0x80 != 0 && matches!(fu & 0x1f, 5 | 7)),
        _ => false,
    }
}

/// VP9 payload descriptor (draft-ietf-payload-vp9): B (start of frame) set
/// and P (inter-picture predicted) clear.
fn vp9(payload: &[u8]) -> bool {
    payload.first().is_some_and(|first| first & 0x08 != 0 && first & 0x40 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn vp8_key_and_delta_frames() {
        assert!(starts_keyframe(Codec::Vp8, &[0x10, 0x00, 0x9d]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x10, 0x01]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x00, 0x00]), "not a partition start");
        // With an extended descriptor and a 15-bit picture id.
        assert!(starts_keyframe(Codec::Vp8, &[0x90, 0x80, 0x81, 0x23, 0x00]));
        assert!(!starts_keyframe(Codec::Vp8, &[]));
    }

    #[test]
    pub(super) fn h264_idr_in_each_packetisation() {
        assert!(starts_keyframe(Codec::H264, &[0x65]));
        assert!(starts_keyframe(Codec::H264, &[0x7c, 0x85]));
        assert!(!starts_keyframe(Codec::H264, &[0x7c, 0x05]), "not the first fragment");
        assert!(starts_keyframe(Codec::H264, &[0x78, 0x00, 0x02, 0x67, 0x42]));
        assert!(!starts_keyframe(Codec::H264, &[0x41]));
    }
}
