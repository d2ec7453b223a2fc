//! The active speaker of each room, from the RFC 6464 audio levels the
//! publishers send.

use super::*;

impl SfuCore {
    pub(super) fn update_speakers(&mut self, now: Instant) {
        let window = self.config.speaker_interval * 2;
        for (room, members) in &self.rooms {
            let loudest = members
                .iter()
                .filter_map(|member| self.peers.get(member))
                .filter_map(|peer| peer.audio_level.map(|(at, level)| (peer, at, level)))
                .filter(|(_, at, level)| now.duration_since(*at) <= window && *level > -50)
                .max_by_key(|(_, _, level)| *level)
                .map(|(peer, _, _)| peer.participant.clone());
            let previous = self.speakers.entry(room.clone()).or_default();
            if *previous != loudest {
                *previous = loudest.clone();
                self.events.push_back(MediaEvent::ActiveSpeaker { room: room.clone(), participant: loudest });
            }
        }
    }
}
