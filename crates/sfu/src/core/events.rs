//! What each peer's `Rtc` reports (connected, ICE state, media added,
//! packets, keyframe requests, bandwidth estimates, statistics, its call
//! channel), turned into forwarding, subscriptions, relayed messages and
//! media events.

use super::*;

impl SfuCore {
    pub(super) fn process(&mut self, now: Instant) {
        while let Some((key, event)) = self.queue.pop_front() {
            self.on_event(key, event, now);
        }
    }

    pub(super) fn on_event(&mut self, key: PeerKey, event: Event, now: Instant) {
        match event {
            Event::Connected => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                peer.connected = true;
                let (room, participant, subscribe) = (peer.room.clone(), peer.participant.clone(), peer.subscribe);
                self.events.push_back(MediaEvent::PeerState {
                    room: room.clone(),
                    participant,
                    state: PeerState::Connected,
                });
                if subscribe {
                    let sources = self.sources_in_room(&room, key);
                    self.want(key, sources);
                    self.negotiate(key, now);
                }
                // What was placed before the connection was up got no
                // keyframe that reached the peer: ask for one now.
                self.request_keyframes_for(key, now);
            }
            Event::IceConnectionStateChange(state) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                peer.ice_checking = matches!(state, IceConnectionState::New | IceConnectionState::Checking);
                let mapped = match state {
                    IceConnectionState::Disconnected => Some(PeerState::Disconnected),
                    IceConnectionState::Connected | IceConnectionState::Completed => Some(PeerState::Connected),
                    _ => None,
                };
                if let Some(state) = mapped.filter(|_| peer.negotiated) {
                    self.events.push_back(MediaEvent::PeerState {
                        room: peer.room.clone(),
                        participant: peer.participant.clone(),
                        state,
                    });
                }
            }
            Event::MediaAdded(added) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                if !(peer.publish && added.direction.is_receiving()) {
                    return;
                }
                peer.incoming.insert(
                    added.mid,
                    Incoming {
                        kind: added.kind,
                        simulcast: added.simulcast.is_some_and(|simulcast| !simulcast.recv.is_empty()),
                        layers: FastMap::default(),
                        last_keyframe_request: FastMap::default(),
                        deferred_keyframes: FastMap::default(),
                        last_params: None,
                    },
                );
                let source = Source { peer: key, mid: added.mid, kind: added.kind };
                let room = peer.room.clone();
                let members = self.rooms.get(&room).cloned().unwrap_or_default();
                for member in members.into_iter().filter(|member| *member != key) {
                    if self.peers.get(&member).is_some_and(|peer| peer.subscribe && peer.negotiated) {
                        self.want(member, vec![source]);
                        self.negotiate(member, now);
                    }
                }
            }
            Event::StreamPaused(paused) => {
                if !paused.paused
                    && let Some(peer) = self.peers.get_mut(&key)
                {
                    peer.rx.insert(paused.ssrc, (paused.mid, paused.rid));
                }
            }
            Event::RtpPacket(packet) => self.forward(key, packet, now),
            Event::KeyframeRequest(request) => {
                let Some(outgoing) = self
                    .peers
                    .get(&key)
                    .and_then(|peer| peer.outgoing.get(&request.mid))
                    .filter(|outgoing| !outgoing.idle)
                else {
                    return;
                };
                let (source, rid) = (outgoing.source, outgoing.current.or(outgoing.target));
                self.request_keyframe(source.peer, source.mid, rid, request.kind, now);
            }
            Event::EgressBitrateEstimate(estimate) => {
                let bps = match estimate {
                    BweKind::Twcc { estimate, .. } => estimate.as_u64(),
                    BweKind::Remb { estimate, .. } => estimate.as_u64(),
                    _ => return,
                };
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.estimate_bps = Some(bps);
                }
                self.choose_layers(key, now);
            }
            Event::MediaEgressStats(stats) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                let seen = peer.egress_nacks.entry((stats.mid, stats.rid)).or_insert(0);
                self.counters.nacks_received += stats.nacks.saturating_sub(*seen);
                *seen = stats.nacks;
            }
            Event::PeerStats(stats) => {
                let Some(peer) = self.peers.get_mut(&key) else { return };
                let (bytes_in, bytes_out) = (stats.peer_bytes_rx, stats.peer_bytes_tx);
                let (rate_in, rate_out) = match peer.last_stats {
                    Some((at, last_in, last_out)) if now > at => {
                        let seconds = now.duration_since(at).as_secs_f64();
                        (
                            ((bytes_in.saturating_sub(last_in)) as f64 * 8.0 / seconds) as u64,
                            ((bytes_out.saturating_sub(last_out)) as f64 * 8.0 / seconds) as u64,
                        )
                    }
                    _ => (0, 0),
                };
                peer.last_stats = Some((now, bytes_in, bytes_out));
                let loss = stats.ingress_loss_fraction.or(stats.egress_loss_fraction).unwrap_or(0.0);
                let mut receive_layers: Vec<String> =
                    peer.outgoing.values().filter_map(|outgoing| outgoing.current.map(|rid| rid.to_string())).collect();
                receive_layers.sort();
                self.events.push_back(MediaEvent::ParticipantStats {
                    room: peer.room.clone(),
                    participant: peer.participant.clone(),
                    bitrate_in: rate_in,
                    bitrate_out: rate_out,
                    loss,
                    rtt_ms: stats.rtt.map(|rtt| u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX)),
                    receive_layers,
                });
            }
            Event::ChannelOpen(id, label) => self.channel_opened(key, id, &label),
            Event::ChannelClose(id) => self.channel_closed(key, id),
            Event::ChannelData(data) => self.relay_channel(key, data, now),
            Event::Closed => {
                if let Some(peer) = self.peers.get(&key) {
                    self.events.push_back(MediaEvent::PeerState {
                        room: peer.room.clone(),
                        participant: peer.participant.clone(),
                        state: PeerState::Disconnected,
                    });
                }
            }
            _ => {}
        }
    }
}
