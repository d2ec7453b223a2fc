//! Keeps a subscriber's sequence numbers and timestamps continuous while
//! the source behind its stream changes (simulcast layer switches), and
//! starts every outgoing stream with a rollover counter of zero (the SRTP
//! ROC is implied by the extended sequence number and never sent).

/// Assumed spacing between frames when switching layers (90 kHz, ~30 fps).
const SWITCH_TIMESTAMP_STEP: u32 = 3000;

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
}

impl Rewriter {
    /// Maps a packet of the current source. The first packet ever starts the
    /// stream below 65536 (a zero rollover counter).
    pub fn map(&mut self, seq: u64, timestamp: u32) -> Option<(u64, u32)> {
        let state = self.state.get_or_insert_with(|| State {
            seq_offset: -i64::try_from(seq & !0xffff).unwrap_or(0),
            ts_offset: 0,
            highest_out_seq: 0,
            last_out_ts: timestamp,
        });
        let out = i64::try_from(seq).ok()? + state.seq_offset;
        let out = u64::try_from(out).ok()?;
        let ts = timestamp.wrapping_add(state.ts_offset);
        if out > state.highest_out_seq {
            state.highest_out_seq = out;
            state.last_out_ts = ts;
        }
        Some((out, ts))
    }

    /// The source changes at this packet (a keyframe of the new layer): the
    /// next outgoing sequence number follows the highest sent, and the
    /// timestamp moves one frame on.
    pub fn switch_source(&mut self, seq: u64, timestamp: u32) {
        match &mut self.state {
            None => {}
            Some(state) => {
                let next = state.highest_out_seq + 1;
                state.seq_offset = i64::try_from(next).unwrap_or(0) - i64::try_from(seq).unwrap_or(0);
                state.ts_offset = state.last_out_ts.wrapping_add(SWITCH_TIMESTAMP_STEP).wrapping_sub(timestamp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_packet_starts_with_a_zero_rollover_counter() {
        let mut rewriter = Rewriter::default();
        let (seq, ts) = rewriter.map(3 * 65536 + 100, 5000).unwrap();
        assert_eq!((seq, ts), (100, 5000));
        assert_eq!(rewriter.map(3 * 65536 + 101, 8000).unwrap().0, 101);
    }

    #[test]
    fn a_layer_switch_continues_sequence_and_time() {
        let mut rewriter = Rewriter::default();
        for n in 0..10 {
            rewriter.map(1000 + n, 90_000 + 3000 * n as u32).unwrap();
        }
        // The new layer has its own numbering.
        rewriter.switch_source(70_000, 12_345);
        let (seq, ts) = rewriter.map(70_000, 12_345).unwrap();
        assert_eq!(seq, 1010, "continues after the highest sent (1009)");
        assert_eq!(ts, 90_000 + 3000 * 9 + 3000);
        assert_eq!(rewriter.map(70_001, 15_345).unwrap(), (1011, ts + 3000));
    }

    #[test]
    fn late_packets_of_the_same_source_keep_their_place() {
        let mut rewriter = Rewriter::default();
        rewriter.map(500, 0).unwrap();
        rewriter.map(502, 6000).unwrap();
        assert_eq!(rewriter.map(501, 3000).unwrap().0, 501);
    }
}
