//! Simulcast layer choice per subscriber: from its bandwidth estimate and
//! receive limit, audio reserved first, signers' video (motion) next, with
//! hysteresis; a switch waits for a keyframe of the new layer.

use super::*;

/// The frame rate a signer's video keeps (EN 301 549 asks ≥ 20 fps for sign language).
const MOTION_FRAME_RATE: f64 = 20.0;
/// Any other video: a layer sent at under a third of the frame rate of the
/// source's most fluid layer (an encoder starved of bandwidth keeps a large
/// picture at a few frames a second) is passed over, so a face moves.
const FLUID_SHARE: f64 = 1.0 / 3.0;

/// How a layer must fit its share.
#[derive(Debug, Clone, Copy)]
enum Fit {
    /// The usual: the highest layer that fits.
    Resolution,
    /// A signer's video: a margin kept, so frames keep flowing and a lower
    /// resolution comes first.
    Motion,
}

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
        let video: Vec<(Mid, Source, Option<Rid>, bool)> = subscriber
            .outgoing
            .iter()
            .filter(|(_, outgoing)| {
                outgoing.active && outgoing.source.kind == MediaKind::Video && live(&outgoing.source)
            })
            .map(|(mid, outgoing)| (*mid, outgoing.source, outgoing.target, outgoing.paused))
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
        let video_budget = budget.saturating_sub(audio_streams * 64_000);
        // Signers' video (`prefer_frame_rate`) has the first claim on the
        // budget, with a margin: a layer that fills the link loses frames,
        // so motion takes a lower resolution sooner. The others share what
        // is left.
        let motion = |source: &Source| self.peers.get(&source.peer).is_some_and(|peer| peer.prefer_frame_rate);
        // While a video is paused for a signer, what this subscriber would
        // like to receive (every stream at its top layer) is told to its
        // bandwidth estimator, which probes for it: the estimate grows only
        // with what is sent, and a paused video would otherwise keep it,
        // and itself, down for the rest of the call. Without a pause nothing
        // is probed (a congested link is left to step down).
        let wanted = audio_streams * 64_000
            + video.iter().map(|(_, source, _, _)| self.top_layer_rate(*source, now)).sum::<u64>();
        let mut any_paused = false;
        let (first, rest): (Vec<_>, Vec<_>) = video.into_iter().partition(|(_, source, _, _)| motion(source));
        let signer = !first.is_empty();
        let mut requests = Vec::new();
        // (m-line, layer, paused)
        let mut changes = Vec::new();
        let mut spent = 0;
        let motion_share = video_budget / first.len().max(1) as u64;
        for (mid, source, target, paused) in first {
            let Some((chosen, rate)) = self.pick_layer(source, target, motion_share, Fit::Motion, now) else {
                continue;
            };
            spent += rate;
            if target != chosen || paused {
                changes.push((mid, chosen, false));
                requests.push((source, chosen));
            }
        }
        let share = video_budget.saturating_sub(spent) / rest.len().max(1) as u64;
        for (mid, source, target, paused) in rest {
            let Some((chosen, rate)) = self.pick_layer(source, target, share, Fit::Resolution, now) else { continue };
            // With a signer in the call and no room left for even the
            // lowest layer, the others' video pauses (their voices go on)
            // so the signer's frames keep coming; it comes back, at a
            // keyframe, once the lowest layer fits with a quarter to spare.
            let pause = signer && if paused { rate * 5 > share * 4 } else { rate > share };
            any_paused |= pause;
            if pause {
                if !paused {
                    changes.push((mid, None, true));
                }
            } else if target != chosen || paused {
                changes.push((mid, chosen, false));
                requests.push((source, chosen));
            }
        }
        if let Some(subscriber) = self.peers.get_mut(&key) {
            for (mid, chosen, pause) in changes {
                if let Some(outgoing) = subscriber.outgoing.get_mut(&mid) {
                    outgoing.target = chosen;
                    outgoing.paused = pause;
                    if pause {
                        // Nothing is forwarded until a keyframe of a chosen layer.
                        outgoing.current = None;
                    }
                }
            }
        }
        // A subscriber not connected yet would miss the keyframe, and the
        // throttle would hold back the one it asks for when it connects
        // (`Event::Connected`).
        if self.peers.get(&key).is_some_and(|subscriber| subscriber.connected) {
            for (source, rid) in requests {
                self.request_keyframe(source.peer, source.mid, rid, KeyframeRequestKind::Pli, now);
            }
        }
        self.want_bitrate(key, if any_paused { wanted } else { 0 }, now);
    }

    /// The highest measured rate among a source's layers seen lately.
    fn top_layer_rate(&self, source: Source, now: Instant) -> u64 {
        let Some(incoming) = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid)) else {
            return 0;
        };
        incoming
            .layers
            .values()
            .filter(|meter| meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2)))
            .map(|meter| meter.rate_bps)
            .max()
            .unwrap_or(0)
    }

    /// Tells a subscriber's bandwidth estimator the rate wanted (it probes
    /// towards it; 0: nothing to probe for), when it changed by a tenth or
    /// more.
    fn want_bitrate(&mut self, key: PeerKey, wanted: u64, now: Instant) {
        let Some(peer) = self.peers.get(&key) else { return };
        let last = peer.wanted_bps;
        if wanted == last || (wanted != 0 && last != 0 && last.abs_diff(wanted) * 10 < last) {
            return;
        }
        self.guard(key, now, |peer| {
            peer.wanted_bps = wanted;
            peer.rtc.bwe().set_bitrate(Bitrate::bps(0), Bitrate::bps(wanted));
        });
        // The estimator's timers moved: the peer's next timeout is new.
        self.drain(key, now);
    }

    /// The layer of a simulcast source for a subscriber's `share` of its
    /// bandwidth, and that layer's measured rate; `None` for a source
    /// without simulcast or without a layer seen lately.
    fn pick_layer(
        &self,
        source: Source,
        target: Option<Rid>,
        share: u64,
        fit: Fit,
        now: Instant,
    ) -> Option<(Option<Rid>, u64)> {
        let incoming = self.peers.get(&source.peer).and_then(|peer| peer.incoming.get(&source.mid))?;
        if !incoming.simulcast {
            return None;
        }
        let recent =
            |meter: &&LayerMeter| meter.last_seen.is_some_and(|seen| now.duration_since(seen) < Duration::from_secs(2));
        // Motion wants frames: a layer its publisher sends at under
        // MOTION_FRAME_RATE (an encoder starved of bandwidth keeps a large
        // picture and drops frames) is passed over while another layer
        // keeps the rate.
        let smooth = |meter: &LayerMeter| meter.frame_rate >= MOTION_FRAME_RATE;
        let any_smooth = incoming.layers.values().filter(recent).any(smooth);
        // A layer that carries bytes but no frames (a paused layer the
        // browser pads to probe bandwidth) is never chosen while another
        // carries frames.
        let any_frames = incoming.layers.values().filter(recent).any(|meter| meter.frame_rate > 0.0);
        let most_fluid = incoming.layers.values().filter(recent).map(|meter| meter.frame_rate).fold(0.0, f64::max);
        // The smallest layer with frames always stays a choice: a narrow
        // link must have something that fits.
        let smallest = incoming
            .layers
            .values()
            .filter(recent)
            .filter(|meter| meter.frame_rate > 0.0)
            .map(|meter| meter.rate_bps)
            .min();
        let fluid =
            |meter: &LayerMeter| meter.frame_rate >= most_fluid * FLUID_SHARE || Some(meter.rate_bps) == smallest;
        let motion = matches!(fit, Fit::Motion);
        if motion && !any_smooth && any_frames {
            // No layer keeps the rate: the one with the most frames.
            let (rid, meter) = incoming
                .layers
                .iter()
                .filter(|(_, meter)| recent(meter))
                .max_by(|(_, a), (_, b)| a.frame_rate.total_cmp(&b.frame_rate).then(b.rate_bps.cmp(&a.rate_bps)))?;
            return Some((*rid, meter.rate_bps));
        }
        let mut layers: Vec<(Option<Rid>, u64, u64)> = incoming
            .layers
            .iter()
            .filter(|(_, meter)| recent(meter))
            .filter(|(_, meter)| !(motion && any_smooth) || smooth(meter))
            .filter(|(_, meter)| !any_frames || meter.frame_rate > 0.0)
            .filter(|(_, meter)| motion || fluid(meter))
            .map(|(rid, meter)| (*rid, meter.rate_bps, meter.bytes))
            .collect();
        // Measured rate first; before a full second has been measured,
        // the bytes seen so far order the layers.
        layers.sort_by_key(|(rid, rate, bytes)| (*rate, *bytes, rid.map(|rid| rid.to_string())));
        let &(lowest, lowest_rate, _) = layers.first()?;
        // An unmeasured layer never counts as fitting: start small. A
        // higher layer must fit within a part of the share (90 %, motion
        // 60 %); the layer in use is kept while it fits (all of the share,
        // motion 75 %), so a layer at the edge does not flap. Motion's margin
        // is wide: a link filled to its estimate queues, and a queue is
        // delay and lost frames, where a smaller picture costs nothing.
        let (up_tenths, keep_tenths) = match fit {
            Fit::Resolution => (9.0, 10.0),
            Fit::Motion => (6.0, 7.5),
        };
        let within = |rate: u64, tenths: f64| rate > 0 && rate as f64 * 10.0 <= share as f64 * tenths;
        let (up, up_rate) = layers
            .iter()
            .rev()
            .find(|(_, rate, _)| within(*rate, up_tenths))
            .map_or((lowest, lowest_rate), |(rid, rate, _)| (*rid, *rate));
        let position = |rid: Option<Rid>| layers.iter().position(|(layer, _, _)| *layer == rid);
        let keep = layers.iter().find(|(rid, rate, _)| *rid == target && within(*rate, keep_tenths));
        match (keep, position(up), position(target)) {
            (Some(&(_, rate, _)), Some(new), Some(current)) if new < current => Some((target, rate)),
            _ => Some((up, up_rate)),
        }
    }

    pub(super) fn refresh_layers(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.choose_layers(key, now);
        }
    }
}
