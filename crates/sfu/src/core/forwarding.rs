//! The per-packet path: one publisher's RTP packet to every subscriber of
//! its source, with payload types mapped, numbering rewritten and the
//! simulcast layer each subscriber wants. Its only allocation per packet
//! is the payload copy each subscriber's `write_rtp` takes by value (str0m's
//! API); str0m allocates its own on the way out (the datagram, the RTX
//! cache's copy).

use super::*;

impl SfuCore {
    pub(super) fn forward(&mut self, key: PeerKey, packet: RtpPacket, now: Instant) {
        let Some(publisher) = self.peers.get_mut(&key) else { return };
        let Some(&(mid, rid)) = publisher.rx.get(&packet.header.ssrc) else { return };
        let Some(incoming) = publisher.incoming.get_mut(&mid) else { return };
        let kind = incoming.kind;
        let simulcast = incoming.simulcast;
        let meter = incoming.layers.entry(rid).or_default();
        meter.bytes += packet.payload.len() as u64;
        meter.frames += u64::from(packet.header.marker);
        meter.last_seen = Some(now);
        let window_start = *meter.window_start.get_or_insert(now);
        if now.duration_since(window_start) >= Duration::from_secs(1) {
            let seconds = now.duration_since(window_start).as_secs_f64();
            meter.rate_bps = (meter.bytes as f64 * 8.0 / seconds) as u64;
            meter.frame_rate = meter.frames as f64 / seconds;
            meter.bytes = 0;
            meter.frames = 0;
            meter.window_start = Some(now);
        }
        let payload_type = packet.header.payload_type;
        let params = match incoming.last_params {
            Some((pt, params)) if pt == payload_type => params,
            _ => {
                // Under catch_unwind like every call into an `Rtc`; only on a
                // change of payload type, so not per packet.
                let rtc = &publisher.rtc;
                let found = catch_unwind(AssertUnwindSafe(|| {
                    rtc.codec_config().find(|params| params.pt() == payload_type).copied()
                }));
                let Ok(Some(params)) = found else {
                    return;
                };
                incoming.last_params = Some((payload_type, params));
                params
            }
        };
        let extensions = &packet.header.ext_vals;
        if kind == MediaKind::Audio
            && let Some(level) = extensions.audio_level
        {
            let louder = publisher
                .audio_level
                .is_none_or(|(at, previous)| level > previous || now.duration_since(at) > self.config.speaker_interval);
            if louder {
                publisher.audio_level = Some((now, level));
            }
        }
        let keyframe = kind == MediaKind::Video && starts_keyframe(params.spec().codec, &packet.payload);
        let clock_rate = params.spec().clock_rate.get();
        // When it was captured, on the node's clock: what the subscribers'
        // sender reports are built from and a source change moves by.
        let captured = publisher.capture.capture_instant(
            packet.header.timestamp,
            clock_rate,
            packet.timestamp,
            packet.last_sender_info.as_ref(),
        );
        // VP8 numbering is read once here, rewritten per subscriber below.
        let vp8_numbering =
            if params.spec().codec == Codec::Vp8 { vp8::Numbering::read(&packet.payload) } else { None };
        let forwarded_extensions = ExtensionValues {
            audio_level: extensions.audio_level,
            voice_activity: extensions.voice_activity,
            video_orientation: extensions.video_orientation,
            ..Default::default()
        };
        // The room's members, copied to the stack: no allocation per packet.
        let mut members = [0 as PeerKey; MAX_ROOM_SIZE];
        let mut count = 0;
        for member in self.rooms.get(&publisher.room).into_iter().flatten() {
            if *member != key && count < MAX_ROOM_SIZE {
                members[count] = *member;
                count += 1;
            }
        }
        for &member in &members[..count] {
            let mut wrote = false;
            let mut switched = false;
            let written = self.guard(member, now, |subscriber| {
                if !subscriber.connected {
                    return;
                }
                let Peer { outgoing, rtc, .. } = subscriber;
                for (out_mid, outgoing) in outgoing.iter_mut() {
                    if !(outgoing.active && outgoing.source.peer == key && outgoing.source.mid == mid) {
                        continue;
                    }
                    if simulcast && outgoing.current != rid {
                        if outgoing.target == rid && keyframe {
                            if outgoing.started {
                                outgoing.rewriter.switch_source(
                                    *packet.seq_no,
                                    packet.header.timestamp,
                                    captured,
                                    clock_rate,
                                );
                                outgoing.vp8.switch_source();
                            }
                            outgoing.new_source = false;
                            outgoing.current = rid;
                            switched = true;
                        } else {
                            continue;
                        }
                    }
                    let pt = match outgoing.pt_map {
                        Some((from, to)) if from == payload_type => to,
                        _ => {
                            let Some(to) = rtc.codec_config().match_params(params).map(|params| params.pt()) else {
                                continue;
                            };
                            outgoing.pt_map = Some((payload_type, to));
                            to
                        }
                    };
                    if outgoing.new_source {
                        outgoing.rewriter.switch_source(*packet.seq_no, packet.header.timestamp, captured, clock_rate);
                        outgoing.vp8.switch_source();
                        outgoing.new_source = false;
                    }
                    let Some((seq, timestamp)) =
                        outgoing.rewriter.map(*packet.seq_no, packet.header.timestamp, captured)
                    else {
                        continue;
                    };
                    outgoing.started = true;
                    let patch = vp8_numbering.and_then(|incoming| outgoing.vp8.patch(&packet.payload, incoming));
                    let mut write = RtpWrite::new(pt, seq.into(), timestamp, captured, packet.payload.clone())
                        .marker(packet.header.marker)
                        .ext_vals(forwarded_extensions.clone())
                        .nackable(kind == MediaKind::Video);
                    if let Some(patch) = patch {
                        write = write.vp8_patch(patch);
                    }
                    if let Some(stream) = rtc.direct_api().stream_tx_by_mid(*out_mid, None) {
                        stream.write_rtp(write);
                        wrote = true;
                    }
                }
            });
            if written.is_some() && wrote {
                self.counters.rtp_forwarded += 1;
                self.counters.forwarded_bytes += packet.payload.len() as u64;
                if switched {
                    self.counters.layer_switches += 1;
                }
                // No drain here: the write only queues the packet, and the
                // subscriber's timeout pass at the next `poll_transmit`
                // (`flush`) is followed by the drain str0m asks for.
                if !self.dirty.contains(&member) {
                    self.dirty.push(member);
                }
            }
        }
    }
}
