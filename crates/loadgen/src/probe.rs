//! The probe payload: shaped like VP8 or Opus, carrying the send time and a
//! counter, so a receiver can measure latency and loss without decoding.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (sender and receiver share a clock
/// on loopback).
pub fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// A VP8-shaped payload: payload descriptor (S=1, partition 0), the frame
/// tag (keyframe when P=0), then the send time and frame number, padded to
/// `size` bytes.
pub fn video_payload(keyframe: bool, frame: u32, size: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(size.max(16));
    payload.push(0x10);
    payload.push(if keyframe { 0x10 } else { 0x11 });
    payload.extend_from_slice(&now_micros().to_be_bytes());
    payload.extend_from_slice(&frame.to_be_bytes());
    payload.resize(size.max(payload.len()), 0xa5);
    payload
}

/// An Opus-shaped payload (TOC byte, then the send time and counter).
pub fn audio_payload(counter: u32, size: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(size.max(16));
    payload.push(0xf8);
    payload.extend_from_slice(&now_micros().to_be_bytes());
    payload.extend_from_slice(&counter.to_be_bytes());
    payload.resize(size.max(payload.len()), 0x5a);
    payload
}

/// The send time in a probe payload, if it is one.
pub fn send_time(payload: &[u8], video: bool) -> Option<u64> {
    let offset = if video { 2 } else { 1 };
    let bytes: [u8; 8] = payload.get(offset..offset + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Measurements of one received stream.
#[derive(Debug, Clone, Default)]
pub struct ProbeStats {
    /// Distinct sequence numbers received.
    pub received: u64,
    /// Packets that arrived more than once.
    pub duplicates: u64,
    /// First and highest extended sequence number seen.
    pub first_seq: Option<u64>,
    /// Highest extended sequence number.
    pub highest_seq: u64,
    /// One-way latency samples in microseconds.
    pub latencies_us: Vec<u64>,
    /// Longest gap between consecutive arrivals, microseconds.
    pub longest_gap_us: u64,
    /// Arrival time of the first packet (Unix micros).
    pub first_arrival_us: Option<u64>,
    /// Arrival time of the last packet (Unix micros).
    pub last_arrival_us: Option<u64>,
    /// Packets whose sequence number went backwards (late or repaired).
    pub out_of_order: u64,
    /// Packets received per payload size (tells simulcast layers apart).
    pub sizes: std::collections::BTreeMap<usize, u64>,
    seen: std::collections::HashSet<u64>,
    last_wire_seq: Option<u16>,
    extended_highest: Option<u64>,
}

impl ProbeStats {
    /// Records a packet.
    pub fn record(&mut self, sequence: u16, payload: &[u8], video: bool) {
        let now = now_micros();
        let extended = match self.extended_highest {
            None => u64::from(sequence),
            Some(highest) => {
                // Unwrap the 16-bit sequence near the highest seen.
                let base = highest & !0xffff;
                let candidates = [base.wrapping_sub(0x1_0000), base, base + 0x1_0000];
                candidates
                    .into_iter()
                    .map(|base| base + u64::from(sequence))
                    .min_by_key(|candidate| candidate.abs_diff(highest))
                    .unwrap_or(u64::from(sequence))
            }
        };
        if !self.seen.insert(extended) {
            self.duplicates += 1;
            return;
        }
        self.received += 1;
        *self.sizes.entry(payload.len()).or_default() += 1;
        if self.first_seq.is_none_or(|first| extended < first) {
            self.first_seq = Some(extended);
        }
        if self.extended_highest.is_some_and(|highest| extended < highest) {
            self.out_of_order += 1;
        }
        if self.extended_highest.is_none_or(|highest| extended > highest) {
            self.extended_highest = Some(extended);
            self.highest_seq = extended;
        }
        self.last_wire_seq = Some(sequence);
        if let Some(sent) = send_time(payload, video)
            && now >= sent
        {
            self.latencies_us.push(now - sent);
        }
        if let Some(last) = self.last_arrival_us {
            self.longest_gap_us = self.longest_gap_us.max(now.saturating_sub(last));
        }
        self.first_arrival_us.get_or_insert(now);
        self.last_arrival_us = Some(now);
    }

    /// Packets expected between the first and highest sequence number.
    pub fn expected(&self) -> u64 {
        self.first_seq.map_or(0, |first| self.highest_seq - first + 1)
    }

    /// Fraction delivered, 0–1.
    pub fn delivery(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 { 0.0 } else { self.received as f64 / expected as f64 }
    }

    /// Sequence numbers missing between the first and highest seen.
    pub fn missing(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// The sequence numbers missing between the first and highest seen.
    pub fn missing_sequences(&self) -> Vec<u64> {
        match self.first_seq {
            None => Vec::new(),
            Some(first) => (first..=self.highest_seq).filter(|seq| !self.seen.contains(seq)).collect(),
        }
    }

    /// Clears the gap measurement (e.g. after the warm-up).
    pub fn reset_gap(&mut self) {
        self.longest_gap_us = 0;
    }

    /// Clears the payload-size counts.
    pub fn reset_sizes(&mut self) {
        self.sizes.clear();
    }
}

/// The `p`-quantile (0–1) of samples, in the samples' unit.
pub fn quantile(samples: &[u64], p: f64) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_send_time() {
        let video = video_payload(true, 7, 1200);
        assert_eq!(video.len(), 1200);
        assert_eq!(video[1] & 1, 0, "keyframe");
        assert!(send_time(&video, true).unwrap() > 0);
        let audio = audio_payload(3, 80);
        assert!(send_time(&audio, false).unwrap() > 0);
    }

    #[test]
    fn stats_count_loss_duplicates_and_wraparound() {
        let mut stats = ProbeStats::default();
        for sequence in [65534u16, 65535, 0, 2, 2, 1] {
            stats.record(sequence, &audio_payload(0, 20), false);
        }
        assert_eq!(stats.received, 5);
        assert_eq!(stats.duplicates, 1);
        assert_eq!(stats.expected(), 5);
        assert_eq!(stats.missing(), 0);
        assert_eq!(stats.out_of_order, 1);
    }
}
