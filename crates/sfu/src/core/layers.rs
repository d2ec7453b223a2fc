//! Simulcast layer choice per subscriber: from its bandwidth estimate and
//! receive limit, audio reserved first, with hysteresis; a switch waits for
//! a keyframe of the new layer.

use super::*;

impl SfuCore {
    /// Chooses each simulcast stream's layer for a subscriber: the highest
    /// layer whose measured rate fits the subscriber's share of its
    /// bandwidth estimate (capped by its own limit). A change waits for a
    /// keyframe of the new layer, which is requested now.
    pub(super) fn choose_layers(&mut self, key: PeerKey, now: Instant) {
        let Some(subscriber) = self.peers.get(&key) else { return };
        let budget = match (subscriber.estimate_bps, subscriber.limit_bps) {
            (Some(estimate), Some(limit)) => estimate.min(limit),
            (Some(estimate), None) => estimate,
            (None, Some(limit)) => limit,
            (None, None) => 300_000,
        };
        // Only sources that send share the budget: a negotiated but idle
        // second source (a document camera not in use) takes nothing.
        let live = |source: &Source| {
            self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)).is_some_and(|incoming| {
                incoming
                    .layers
                    .values()
                    .any(|meter| meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2)))
            })
        };
        let video: Vec<(Mid, Source, Option<Rid>)> = subscriber
            .outgoing
            .iter()
            .filter(|(_, outgoing)| {
                outgoing.active && outgoing.source.kind == MediaKind::Video && live(&outgoing.source)
            })
            .map(|(mid, outgoing)| (*mid, outgoing.source, outgoing.target))
            .collect();
        if video.is_empty() {
            return;
        }
        // Audio is never given up for video: reserve for it first.
        let audio_streams = subscriber
            .outgoing
            .values()
            .filter(|outgoing| outgoing.active && outgoing.source.kind == MediaKind::Audio)
            .count() as u64;
        let share = budget.saturating_sub(audio_streams * 64_000) / video.len() as u64;
        let mut requests = Vec::new();
        let mut changes = Vec::new();
        for (mid, source, target) in video {
            let Some(incoming) = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)) else {
                continue;
            };
            if !incoming.simulcast {
                continue;
            }
            let mut layers: Vec<(Option<Rid>, u64, u64)> = incoming
                .layers
                .iter()
                .filter(|(_, meter)| {
                    meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2))
                })
                .map(|(rid, meter)| (*rid, meter.rate_bps, meter.bytes))
                .collect();
            // Measured rate first; before a full second has been measured,
            // the bytes seen so far order the layers.
            layers.sort_by_key(|(rid, rate, bytes)| (*rate, *bytes, rid.map(|rid| rid.to_string())));
            let Some(&(lowest, _, _)) = layers.first() else { continue };
            // An unmeasured layer never counts as fitting: start small. A
            // higher layer must fit within 90 % of the share; the layer in
            // use is kept while it fits at all (no flapping at the edge).
            let up = layers
                .iter()
                .rev()
                .find(|(_, rate, _)| *rate > 0 && *rate * 10 <= share * 9)
                .map_or(lowest, |(rid, _, _)| *rid);
            let position = |rid: Option<Rid>| layers.iter().position(|(layer, _, _)| *layer == rid);
            let keep = layers.iter().find(|(rid, rate, _)| *rid == target && *rate > 0 && *rate <= share);
            let chosen = match (keep, position(up), position(target)) {
                (Some(_), Some(new), Some(current)) if new < current => target,
                _ => up,
            };
            if target != chosen {
                changes.push((mid, chosen));
                requests.push((source, chosen));
            }
        }
        if let Some(subscriber) = self.peers.get_mut(&key) {
            for (mid, chosen) in changes {
                if let Some(outgoing) = subscriber.outgoing.get_mut(&mid) {
                    outgoing.target = chosen;
                }
            }
        }
        for (source, rid) in requests {
            self.request_keyframe(source.peer, source.mid, rid, KeyframeRequestKind::Pli, now);
        }
    }

    pub(super) fn refresh_layers(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.choose_layers(key, now);
        }
    }
}
