//! Negotiation with each peer: the peer's offers and answers, trickled
//! candidates, and the core's own renegotiation offers when sources come and
//! go. A new source goes on an idle m-line of its kind when there is one
//! (recycled, with its stream id rewritten in `sdp.rs`), on a new m-line
//! only when there is none.

use super::*;

impl SfuCore {
    /// Payload types may be renumbered by a renegotiation: forget the
    /// per-stream mappings of this peer and of streams it feeds.
    pub(super) fn forget_payload_mappings(&mut self, key: PeerKey) {
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.incoming.values_mut().for_each(|incoming| incoming.last_params = None);
            peer.outgoing.values_mut().for_each(|outgoing| outgoing.pt_map = None);
        }
        for peer in self.peers.values_mut() {
            for outgoing in peer.outgoing.values_mut().filter(|outgoing| outgoing.source.peer == key) {
                outgoing.pt_map = None;
            }
        }
    }

    pub(super) fn accept_offer(
        &mut self,
        now: Instant,
        room: &RoomId,
        participant: &ParticipantId,
        sdp: &str,
    ) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "add the participant first");
        };
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(err) => return refused(MediaErrorCode::InvalidSdp, format!("unreadable offer: {err}")),
        };
        // An offer from the peer cancels an offer of ours still unanswered
        // (glare): its changes are made again afterwards.
        if let Some(Pending { adds, stops, .. }) = self.peers.get_mut(&key).and_then(|peer| peer.pending.take()) {
            self.guard(key, now, |peer| {
                peer.undo_placements(adds);
                peer.stopping.extend(stops);
            });
        }
        let receive_lines = sdp::receive_only_lines(sdp);
        let answer = self.guard(key, now, |peer| peer.rtc.sdp_api().accept_offer(offer));
        match answer {
            None => refused(MediaErrorCode::Internal, "the peer failed"),
            Some(Err(err)) => refused(MediaErrorCode::InvalidSdp, format!("the offer cannot be accepted: {err}")),
            Some(Ok(answer)) => {
                let subscribe = self.peers.get_mut(&key).map(|peer| {
                    peer.negotiated = true;
                    (peer.subscribe, peer.room.clone())
                });
                self.forget_payload_mappings(key);
                self.drain(key, now);
                // The room's sources go on the receive-only lines the peer
                // offered, in this answer; any left over are offered at
                // once, while ICE and DTLS are still under way.
                if let Some((true, room)) = subscribe {
                    let sources = self.sources_in_room(&room, key);
                    self.want(key, sources);
                }
                self.fill_receive_lines(key, &receive_lines, now);
                let sdp = self.with_stream_ids(key, &answer.to_sdp_string());
                self.negotiate(key, now);
                MediaResult::Answer { sdp }
            }
        }
    }

    pub(super) fn accept_answer(
        &mut self,
        now: Instant,
        room: &RoomId,
        participant: &ParticipantId,
        sdp: &str,
    ) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "no such participant");
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(err) => return refused(MediaErrorCode::InvalidSdp, format!("unreadable answer: {err}")),
        };
        let Some(pending) = self.peers.get_mut(&key).and_then(|peer| peer.pending.take()) else {
            return refused(MediaErrorCode::InvalidSdp, "no offer of ours is waiting for an answer");
        };
        let Pending { offer, adds, stops } = pending;
        let accepted = self.guard(key, now, |peer| peer.rtc.sdp_api().accept_answer(offer, answer));
        match accepted {
            None => refused(MediaErrorCode::Internal, "the peer failed"),
            Some(Err(err)) => {
                // Start over with the same changes.
                self.guard(key, now, |peer| {
                    peer.undo_placements(adds);
                    peer.stopping.extend(stops);
                });
                refused(MediaErrorCode::InvalidSdp, format!("the answer cannot be accepted: {err}"))
            }
            Some(Ok(())) => {
                self.forget_payload_mappings(key);
                let mut sources = Vec::new();
                if let Some(peer) = self.peers.get_mut(&key) {
                    for placement in &adds {
                        if let Some(outgoing) = peer.outgoing.get_mut(&placement.mid) {
                            outgoing.active = true;
                            sources.push(placement.source);
                        }
                    }
                    peer.mark_idle(&stops);
                }
                self.configure_forwarded_video(key, &adds);
                self.drain(key, now);
                self.choose_layers(key, now);
                // A new subscriber needs a keyframe to start decoding; one
                // not connected yet asks when it is (`Event::Connected`).
                if self.peers.get(&key).is_some_and(|peer| peer.connected) {
                    self.request_keyframes(sources, now);
                }
                self.negotiate(key, now);
                MediaResult::Ok
            }
        }
    }

    /// Repairs must not be given up: str0m's default clears every queued
    /// resend once retransmissions exceed 15 % of the bytes sent, and
    /// bandwidth probing (padding made of spurious resends) counts towards
    /// that share. NACK-driven resends are bounded by the loss itself, so no
    /// cap is set. Forwarded video was paced by its publisher already;
    /// pacing it again behind an estimator that holds under random loss only
    /// adds queueing delay (the estimate still drives layer choice).
    fn configure_forwarded_video(&mut self, key: PeerKey, placements: &[Placement]) {
        let Some(peer) = self.peers.get_mut(&key) else { return };
        for Placement { mid, source, .. } in placements {
            if source.kind == MediaKind::Video {
                let configured = catch_unwind(AssertUnwindSafe(|| {
                    if let Some(stream) = peer.rtc.direct_api().stream_tx_by_mid(*mid, None) {
                        stream.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, None);
                        stream.set_unpaced(true);
                    }
                }));
                if configured.is_err() {
                    self.counters.peer_panics += 1;
                }
            }
        }
    }

    /// The receive-only m-lines a peer offered (new ones only) carry the
    /// sources it wants, in the answer itself: their stream ids name the
    /// publishers, so the peer needs no second round. A line with no
    /// source for it is turned inactive by the next offer of ours, and is
    /// then free for a later source; sources with no line wait for one.
    fn fill_receive_lines(&mut self, key: PeerKey, lines: &[(String, bool)], now: Instant) {
        let sending = self.guard(key, now, |peer| {
            lines
                .iter()
                .map(|(mid, audio)| (Mid::from(mid.as_str()), if *audio { MediaKind::Audio } else { MediaKind::Video }))
                .filter(|(mid, _)| {
                    peer.rtc.media(*mid).is_some_and(|media| media.direction() == str0m::media::Direction::SendOnly)
                })
                .collect::<Vec<_>>()
        });
        // Cameras first: a publisher's first video line is its camera, and a
        // second source (a document camera, a screen, perhaps no longer
        // sending) takes one of these lines only when every camera has one.
        // The page offers a line per other's camera; the rest come by
        // renegotiation, never a camera the join's first frames wait for.
        let cameras: Vec<Source> = self
            .peers
            .get(&key)
            .map(|peer| peer.wanted.iter().filter(|source| self.is_camera(source)).copied().collect())
            .unwrap_or_default();
        let (Some(sending), Some(peer)) = (sending, self.peers.get_mut(&key)) else { return };
        let mut placements = Vec::new();
        for (mid, kind) in sending {
            if peer.outgoing.contains_key(&mid) || peer.incoming.contains_key(&mid) {
                continue;
            }
            let index = peer
                .wanted
                .iter()
                .position(|source| source.kind == kind && (kind != MediaKind::Video || cameras.contains(source)))
                .or_else(|| peer.wanted.iter().position(|source| source.kind == kind));
            match index {
                Some(index) => {
                    let source = peer.wanted.remove(index);
                    let mut outgoing = Outgoing::new(source);
                    outgoing.active = true;
                    peer.outgoing.insert(mid, outgoing);
                    placements.push(Placement { mid, source, recycled: false });
                }
                None => {
                    // Nothing to carry: it waits, inactive, for a source.
                    let mut outgoing = Outgoing::new(Source { peer: key, mid, kind });
                    outgoing.idle = true;
                    peer.outgoing.insert(mid, outgoing);
                    peer.stopping.push(mid);
                }
            }
        }
        if placements.is_empty() {
            return;
        }
        self.configure_forwarded_video(key, &placements);
        self.choose_layers(key, now);
        if self.peers.get(&key).is_some_and(|peer| peer.connected) {
            self.request_keyframes(placements.iter().map(|placement| placement.source).collect(), now);
        }
    }

    pub(super) fn add_candidate(
        &mut self,
        now: Instant,
        room: &RoomId,
        participant: &ParticipantId,
        candidate: &IceCandidate,
    ) -> MediaResult {
        let Some(key) = self.peer_key(room, participant) else {
            return refused(MediaErrorCode::UnknownParticipant, "no such participant");
        };
        let line = candidate.candidate.trim();
        if line.is_empty() {
            return MediaResult::Ok; // End of candidates.
        }
        let parsed = Candidate::from_sdp_string(line)
            .or_else(|_| Candidate::from_sdp_string(line.strip_prefix("a=").unwrap_or(line)));
        match parsed {
            Err(err) => refused(MediaErrorCode::InvalidCandidate, format!("unreadable candidate: {err}")),
            Ok(candidate) => {
                self.guard(key, now, |peer| peer.rtc.add_remote_candidate(candidate));
                self.drain(key, now);
                MediaResult::Ok
            }
        }
    }

    /// Sends a renegotiation offer when the peer has changes and none is
    /// outstanding. A new source goes on an idle m-line of its kind when
    /// there is one, and on a new m-line only when there is none, so the
    /// session description grows with the most tracks ever present at once,
    /// not with every join and leave of a long call.
    pub(super) fn negotiate(&mut self, key: PeerKey, now: Instant) {
        let ready = self.peers.get(&key).is_some_and(|peer| {
            peer.negotiated && peer.pending.is_none() && (!peer.wanted.is_empty() || !peer.stopping.is_empty())
        });
        if !ready {
            return;
        }
        let Some(wanted) = self.peers.get_mut(&key).map(|peer| std::mem::take(&mut peer.wanted)) else { return };
        let result = self.guard(key, now, |peer| {
            let stopping = std::mem::take(&mut peer.stopping);
            let mut idle: Vec<(Mid, MediaKind)> = peer
                .outgoing
                .iter()
                .filter(|(mid, outgoing)| outgoing.idle && !stopping.contains(mid))
                .map(|(mid, outgoing)| (*mid, outgoing.source.kind))
                .collect();
            idle.sort_by_key(|(mid, _)| mid.to_string());
            let mut api = peer.rtc.sdp_api();
            let mut adds = Vec::new();
            for source in wanted {
                let free = idle.iter().position(|(_, kind)| *kind == source.kind);
                let placement = match free {
                    Some(index) => {
                        let (mid, _) = idle.remove(index);
                        // Through inactive, so the offer carries the change
                        // even if an abandoned offer left it sending.
                        api.set_direction(mid, str0m::media::Direction::Inactive);
                        api.set_direction(mid, str0m::media::Direction::SendOnly);
                        Placement { mid, source, recycled: true }
                    }
                    None => {
                        let mid = api.add_media(source.kind, str0m::media::Direction::SendOnly, None, None, None);
                        Placement { mid, source, recycled: false }
                    }
                };
                adds.push(placement);
            }
            for mid in &stopping {
                api.set_direction(*mid, str0m::media::Direction::Inactive);
            }
            let applied = api.apply();
            (applied, adds, stopping)
        });
        let Some((applied, adds, stops)) = result else { return };
        let Some(peer) = self.peers.get_mut(&key) else { return };
        for placement in &adds {
            match peer.outgoing.get_mut(&placement.mid) {
                Some(outgoing) if placement.recycled => outgoing.carry(placement.source),
                _ => {
                    peer.outgoing.insert(placement.mid, Outgoing::new(placement.source));
                }
            }
        }
        match applied {
            Some((offer, pending)) => {
                peer.pending = Some(Pending { offer: pending, adds, stops });
                let (room, participant) = (peer.room.clone(), peer.participant.clone());
                let sdp = self.with_stream_ids(key, &offer.to_sdp_string());
                self.events.push_back(MediaEvent::Offer { room, participant, sdp });
            }
            None => {
                peer.mark_idle(&stops);
                self.guard(key, now, |peer| peer.undo_placements(adds));
            }
        }
        self.drain(key, now);
    }

    /// Each forwarded track's stream id (msid) is its publisher's
    /// participant id, so a client can tell whose media a track carries.
    /// str0m fixes an m-line's msid when the line is added; a recycled line
    /// carries someone else's media, so the ids are written into the
    /// description here, from the current sources.
    pub(super) fn with_stream_ids(&self, key: PeerKey, sdp: &str) -> String {
        let Some(peer) = self.peers.get(&key) else { return sdp.to_owned() };
        let streams: HashMap<String, String> = peer
            .outgoing
            .iter()
            .filter(|(_, outgoing)| !outgoing.idle)
            .filter_map(|(mid, outgoing)| {
                let publisher = self.peers.get(&outgoing.source.peer)?;
                Some((mid.to_string(), publisher.participant.to_string()))
            })
            .collect();
        sdp::with_stream_ids(sdp, &streams)
    }

    pub(super) fn want(&mut self, key: PeerKey, sources: Vec<Source>) {
        let Some(peer) = self.peers.get_mut(&key) else { return };
        for source in sources {
            let known = peer.wanted.contains(&source)
                || peer.outgoing.values().any(|outgoing| !outgoing.idle && outgoing.source == source)
                || peer
                    .pending
                    .as_ref()
                    .is_some_and(|pending| pending.adds.iter().any(|placement| placement.source == source));
            if !known {
                peer.wanted.push(source);
            }
        }
    }

    /// Whether `source` is its publisher's first video line (in the order
    /// of `sources_in_room`): its camera.
    fn is_camera(&self, source: &Source) -> bool {
        source.kind == MediaKind::Video
            && self.peers.get(&source.peer).is_some_and(|publisher| {
                let first = publisher
                    .incoming
                    .iter()
                    .filter(|(_, incoming)| incoming.kind == MediaKind::Video)
                    .map(|(mid, _)| mid.to_string())
                    .min();
                first == Some(source.mid.to_string())
            })
    }

    pub(super) fn sources_in_room(&self, room: &RoomId, except: PeerKey) -> Vec<Source> {
        let mut sources = Vec::new();
        for member in self.rooms.get(room).into_iter().flatten().filter(|member| **member != except) {
            if let Some(peer) = self.peers.get(member) {
                let mut mids: Vec<(&Mid, &Incoming)> = peer.incoming.iter().collect();
                mids.sort_by_key(|(mid, _)| mid.to_string());
                sources.extend(mids.into_iter().map(|(mid, incoming)| Source {
                    peer: *member,
                    mid: *mid,
                    kind: incoming.kind,
                }));
            }
        }
        sources
    }
}
