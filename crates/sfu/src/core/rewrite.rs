//! Keeps a subscriber's sequence numbers and timestamps continuous while
//! the source behind its stream changes (simulcast layer switches, a
//! recycled m-line's new publisher), and starts every outgoing stream with
//! a rollover counter of zero (the SRTP ROC is implied by the extended
//! sequence number and never sent).
//!
//! Across a change the timestamp moves on by the time between the
//! captures of the stream's last packet and the new source's first (on the
//! node's clock, `capture`; a packet's arrival until its publisher has sent
//! a report): the node's sender reports map the stream's RTP time to that
//! same clock, and a stream that went quiet and resumed one frame on would
//! disagree with them by the time it was quiet. Chromium then mapped the
//! stream's frames to the wrong moments and held the video back to keep it
//! in sync with the audio: a returning advisor's video at a kiosk played
//! 0.2–0.8 s late.

use std::time::{Duration, Instant};

/// Per outgoing stream rewriting state.
#[derive(Debug, Default, Clone)]
pub struct Rewriter {
    state: Option<State>,
}

#[derive(Debug, Clone)]
struct State {
    /// `out = in + seq_offset` for the current source.
    seq_offset: i64,
    /// `out = in + ts_offset` (wrapping) for the current source.
    ts_offset: u32,
    highest_out_seq: u64,
    last_out_ts: u32,
    /// When the packet with the highest sequence number was captured.
    last_out_at: Instant,
}

impl Rewriter {
    /// Maps a packet of the current source, captured at `at`. The first
    /// packet ever starts the stream below 65536 (a zero rollover counter).
    pub fn map(&mut self, seq: u64, timestamp: u32, at: Instant) -> Option<(u64, u32)> {
        let state = self.state.get_or_insert_with(|| State {
            seq_offset: -i64::try_from(seq & !0xffff).unwrap_or(0),
            ts_offset: 0,
            highest_out_seq: 0,
            last_out_ts: timestamp,
            last_out_at: at,
        });
        let out = i64::try_from(seq).ok()? + state.seq_offset;
        let out = u64::try_from(out).ok()?;
        let ts = timestamp.wrapping_add(state.ts_offset);
        if out > state.highest_out_seq {
            state.highest_out_seq = out;
            state.last_out_ts = ts;
            state.last_out_at = at;
        }
        Some((out, ts))
    }

    /// The source changes at this packet (a keyframe of the new layer, the
    /// first packet of a new publisher), captured at `at`, of a codec
    /// clocked at `clock_rate` Hz: the next outgoing sequence number follows
    /// the highest sent, and the timestamp moves on by the time since the
    /// last packet sent was captured (at least a tick). Not by an assumed
    /// frame: a new layer's keyframe is often of the very picture the old
    /// layer's last frame showed, and a frame's step at every switch put
    /// the stream's time ahead of the clock, held back by the receiver as
    /// it went.
    pub fn switch_source(&mut self, seq: u64, timestamp: u32, at: Instant, clock_rate: u32) {
        match &mut self.state {
            None => {}
            Some(state) => {
                let next = state.highest_out_seq + 1;
                state.seq_offset = i64::try_from(next).unwrap_or(0) - i64::try_from(seq).unwrap_or(0);
                let step = ticks(at.saturating_duration_since(state.last_out_at), clock_rate).max(1);
                state.ts_offset = state.last_out_ts.wrapping_add(step).wrapping_sub(timestamp);
            }
        }
    }
}

/// `elapsed` in ticks of a `clock_rate` Hz clock (wrapping like RTP time).
fn ticks(elapsed: Duration, clock_rate: u32) -> u32 {
    (elapsed.as_micros() * u128::from(clock_rate) / 1_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: u32 = 90_000;

    #[test]
    fn first_packet_starts_with_a_zero_rollover_counter() {
        let mut rewriter = Rewriter::default();
        let at = Instant::now();
        let (seq, ts) = rewriter.map(3 * 65536 + 100, 5000, at).unwrap();
        assert_eq!((seq, ts), (100, 5000));
        assert_eq!(rewriter.map(3 * 65536 + 101, 8000, at).unwrap().0, 101);
    }

    #[test]
    fn a_layer_switch_continues_sequence_and_time() {
        let mut rewriter = Rewriter::default();
        let start = Instant::now();
        let frame = Duration::from_micros(33_333);
        for n in 0..10 {
            rewriter.map(1000 + n, 90_000 + 3000 * n as u32, start + frame * n as u32).unwrap();
        }
        // The new layer has its own numbering; its keyframe comes with the
        // next frame.
        let at = start + frame * 10;
        rewriter.switch_source(70_000, 12_345, at, VIDEO);
        let (seq, ts) = rewriter.map(70_000, 12_345, at).unwrap();
        assert_eq!(seq, 1010, "continues after the highest sent (1009)");
        assert_eq!(ts, 90_000 + 3000 * 9 + 2999, "33.333 ms on, in whole ticks");
        assert_eq!(rewriter.map(70_001, 15_345, at + frame).unwrap(), (1011, ts + 3000));
    }

    #[test]
    fn a_source_after_a_quiet_stream_moves_on_by_the_time_that_passed() {
        let mut rewriter = Rewriter::default();
        let start = Instant::now();
        rewriter.map(10, 1_000, start).unwrap();
        // The line was idle for 2.5 s (its publisher left); the next
        // publisher's first packet moves the time on by as much, so the
        // stream's RTP time keeps pace with the sender reports sent meanwhile.
        rewriter.switch_source(500, 77_777, start + Duration::from_millis(2500), VIDEO);
        let (seq, ts) = rewriter.map(500, 77_777, start + Duration::from_millis(2500)).unwrap();
        assert_eq!((seq, ts), (11, 1_000 + 225_000));
        // Audio at 48 kHz: a tick on at the same instant (a timestamp never
        // repeats), then by the clock.
        let mut audio = Rewriter::default();
        audio.map(1, 0, start).unwrap();
        audio.switch_source(9, 5, start, 48_000);
        assert_eq!(audio.map(9, 5, start).unwrap().1, 1);
        audio.switch_source(20, 5, start + Duration::from_secs(1), 48_000);
        assert_eq!(audio.map(20, 5, start + Duration::from_secs(1)).unwrap().1, 1 + 48_000);
    }

    #[test]
    fn late_packets_of_the_same_source_keep_their_place() {
        let mut rewriter = Rewriter::default();
        let at = Instant::now();
        rewriter.map(500, 0, at).unwrap();
        rewriter.map(502, 6000, at).unwrap();
        assert_eq!(rewriter.map(501, 3000, at).unwrap().0, 501);
    }
}
