//! When a forwarded packet's media was captured, on the node's clock: the
//! instant each outgoing stream's sender reports are built from (str0m's
//! `RtpWrite` wallclock) and the rewriter moves RTP time by across a source
//! change.
//!
//! A publisher's sender reports map each of its streams' RTP time to its
//! own wall clock, one clock for all its streams (a camera's simulcast
//! layers and its microphone alike). A packet's capture time is read from
//! its stream's latest report and placed on the node's clock by one offset
//! per publisher: the smallest gap yet between a packet's arrival and its
//! capture, so the instant is never after the packet's arrival (str0m
//! builds no valid report from a wallclock in the future) and is as late as
//! the fastest packet allows.
//!
//! Why not the arrival time: a packet arrives after its capture by a delay
//! that varies — a keyframe is larger, paced out over tens of
//! milliseconds; a retransmission comes a round trip late. The node's sender
//! reports, extrapolated from the last packet written, then disagreed with
//! the stream's RTP time by that variation at every report, and at every
//! layer switch the stream's time moved by the new layer's keyframe's
//! lateness on top of the time between the pictures. A receiver syncs a
//! person's audio and video by the reports, so whatever a publisher's
//! video waited upstream more than its audio (an encoder, a pacer queue on
//! a narrow uplink; ~10 ms on loopback, docs/benchmarks.md) reached every
//! receiver as a lip-sync error.
//!
//! Before a stream's first report (the first second of a call, about) its
//! packets' arrival stands in.
//!
//! A packet is placed at most `MAX_BEHIND` before its arrival. A publisher's
//! reports are not always true of every stream: under load a microphone's
//! RTP time can fall behind its sender's clock (sound dropped when the
//! capture thread is late), and every packet until the stream's next
//! report, seconds later, reads as captured that much earlier. Passed on
//! whole, receivers held the person's video by it to keep it "in sync": a
//! kiosk held the expert's video 0.4–0.9 s in a CI run, and on a loaded
//! machine the node saw a microphone's packets 40–430 ms behind their
//! reports for 1–4 s at a time while the same person's camera was on time.
//! The bound keeps what the reports are for (a keyframe paced out, a video
//! queued upstream longer than its audio) and caps what a wrong one costs
//! below the lip-sync error a person notices (audio ahead of video by
//! 45 ms, ITU-R BT.1359).

use std::time::{Duration, Instant, UNIX_EPOCH};

use str0m::rtp::rtcp::SenderInfo;

/// How long the fastest of a window's packets may lag behind its capture
/// on the node's clock before the offset is taken up again: a publisher's
/// clock that drifts from the node's, or that was set anew.
const MAX_LAG: Duration = Duration::from_millis(250);
/// The window over which the fastest packet's lag is watched.
const WINDOW: Duration = Duration::from_secs(2);
/// How far before its arrival a packet is placed at most.
const MAX_BEHIND: Duration = Duration::from_millis(45);

/// One publisher's clock as the node sees it.
#[derive(Debug, Default, Clone)]
pub(super) struct CaptureClock {
    state: Option<State>,
}

#[derive(Debug, Clone)]
struct State {
    /// The arrival that nanosecond offsets count from.
    base: Instant,
    /// Node nanoseconds (from `base`) minus publisher nanoseconds (from
    /// the Unix epoch): the smallest arrival − capture seen, adjusted.
    offset: i64,
    /// The window's start and the smallest lag behind the offset in it.
    window_start: Instant,
    window_lag: i64,
}

impl CaptureClock {
    /// When the packet with RTP `timestamp` (of a `clock_rate` Hz codec),
    /// received at `arrival`, was captured, on the node's clock, by its
    /// stream's last sender report `report`; without one, `arrival`.
    pub(super) fn capture_instant(
        &mut self,
        timestamp: u32,
        clock_rate: u32,
        arrival: Instant,
        report: Option<&SenderInfo>,
    ) -> Instant {
        let Some(capture) = report.and_then(|report| capture_nanos(timestamp, clock_rate, report)) else {
            return arrival;
        };
        let state = self.state.get_or_insert(State {
            base: arrival,
            offset: i64::MAX,
            window_start: arrival,
            window_lag: i64::MAX,
        });
        let Ok(since_base) = i64::try_from(arrival.saturating_duration_since(state.base).as_nanos()) else {
            return arrival;
        };
        let gap = since_base.saturating_sub(capture);
        if gap < state.offset {
            // The fastest packet yet (or a publisher's clock set ahead).
            state.offset = gap;
        }
        let lag = gap - state.offset;
        state.window_lag = state.window_lag.min(lag);
        if arrival.saturating_duration_since(state.window_start) >= WINDOW {
            if state.window_lag > MAX_LAG.as_nanos() as i64 {
                // Even the window's fastest packet lagged: the publisher's
                // clock slowed or was set back. Take the offset up again.
                state.offset += state.window_lag;
            }
            state.window_start = arrival;
            state.window_lag = i64::MAX;
        }
        let at = capture.saturating_add(state.offset);
        let instant = if at >= 0 {
            state.base.checked_add(Duration::from_nanos(at as u64))
        } else {
            state.base.checked_sub(Duration::from_nanos(at.unsigned_abs()))
        };
        let instant = instant.filter(|instant| *instant <= arrival).unwrap_or(arrival);
        match arrival.checked_sub(MAX_BEHIND) {
            Some(earliest) => instant.max(earliest),
            None => instant,
        }
    }
}

/// The capture time of RTP `timestamp` by `report`, in nanoseconds since
/// the Unix epoch on the publisher's clock. The timestamp's distance from
/// the report's is taken as a signed 32-bit count (wrapping RTP time), so
/// a packet captured before the report is placed before it.
fn capture_nanos(timestamp: u32, clock_rate: u32, report: &SenderInfo) -> Option<i64> {
    if clock_rate == 0 {
        return None;
    }
    let reported = i64::try_from(report.ntp_time.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()?;
    let ticks = i64::from(timestamp.wrapping_sub(report.rtp_time.numer() as u32) as i32);
    Some(reported.saturating_add(ticks * 1_000_000_000 / i64::from(clock_rate)))
}

/// A publisher's report for tests: RTP `rtp_time` was captured at `ntp`.
#[cfg(test)]
pub(super) fn report(ntp: std::time::SystemTime, rtp_time: u32, clock_rate: u32) -> SenderInfo {
    use str0m::media::{Frequency, MediaTime};
    use str0m::rtp::Ssrc;
    SenderInfo {
        ssrc: Ssrc::from(1u32),
        ntp_time: ntp,
        rtp_time: MediaTime::new(u64::from(rtp_time), Frequency::new(clock_rate).unwrap()),
        sender_packet_count: 0,
        sender_octet_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: u32 = 90_000;

    #[test]
    fn without_a_report_the_arrival_stands_in() {
        let mut clock = CaptureClock::default();
        let now = Instant::now();
        assert_eq!(clock.capture_instant(3000, VIDEO, now, None), now);
    }

    #[test]
    fn late_packets_are_placed_at_their_capture_not_their_arrival() {
        let mut clock = CaptureClock::default();
        let start = Instant::now();
        // The publisher's clock is far from the node's; only differences count.
        let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sr = report(epoch, 90_000, VIDEO);
        let frame = Duration::from_micros(33_333);
        // Frame 0 arrives 10 ms after its capture, frame 1 12 ms after,
        // frame 2 (a keyframe, paced out) 45 ms after.
        let at0 = clock.capture_instant(90_000, VIDEO, start, Some(&sr));
        let at1 = clock.capture_instant(93_000, VIDEO, start + frame + Duration::from_millis(2), Some(&sr));
        let at2 = clock.capture_instant(96_000, VIDEO, start + frame * 2 + Duration::from_millis(35), Some(&sr));
        assert_eq!(at0, start, "the fastest packet sets the offset");
        let close = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_micros(2);
        assert!(close(at1 - at0, frame), "{:?}", at1 - at0);
        assert!(close(at2 - at0, frame * 2), "the keyframe's lateness is not its capture: {:?}", at2 - at0);
        // A packet of before the report, one frame before frame 0, that
        // arrived after it.
        let before = clock.capture_instant(87_000, VIDEO, start + Duration::from_millis(5), Some(&sr));
        assert!(close(at0 - before, frame), "{:?}", at0 - before);
    }

    #[test]
    fn one_publishers_streams_share_its_clock() {
        let mut clock = CaptureClock::default();
        let start = Instant::now();
        let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Two simulcast layers and the microphone, each with its own RTP
        // time, reported at the same instant.
        let low = report(epoch, 1_000, VIDEO);
        let high = report(epoch, 500_000, VIDEO);
        let audio = report(epoch, 7_000, 48_000);
        let a = clock.capture_instant(1_000 + 9_000, VIDEO, start, Some(&low));
        // The high layer's packet of the same picture arrives 30 ms later.
        let b = clock.capture_instant(500_000 + 9_000, VIDEO, start + Duration::from_millis(30), Some(&high));
        let c = clock.capture_instant(7_000 + 4_800, 48_000, start + Duration::from_millis(5), Some(&audio));
        assert_eq!(a, b, "the same picture, the same instant");
        assert!(c.duration_since(a) < Duration::from_millis(1) && a.duration_since(c) < Duration::from_millis(1));
    }

    #[test]
    fn a_stream_whose_reports_fell_behind_is_placed_at_most_max_behind_its_arrival() {
        let mut clock = CaptureClock::default();
        let start = Instant::now();
        let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let video = report(epoch, 0, VIDEO);
        let audio = report(epoch, 0, 48_000);
        for n in 0..100u32 {
            let arrival = start + Duration::from_millis(20) * n;
            let at = clock.capture_instant(n * 1_800, VIDEO, arrival, Some(&video));
            assert_eq!(at, arrival, "the camera's packets set the clock");
            // The microphone lost 800 ms of samples since its report: its
            // RTP time is that far behind, each packet read as captured
            // 800 ms before it was. The camera keeps the offset, so no
            // window takes it up.
            let timestamp = (n * 960).wrapping_sub(38_400);
            let arrival = arrival + Duration::from_millis(1);
            let at = clock.capture_instant(timestamp, 48_000, arrival, Some(&audio));
            assert_eq!(arrival - at, MAX_BEHIND, "packet {n}");
        }
        // Within the bound a stream's own lateness is kept whole.
        let arrival = start + Duration::from_millis(2_030);
        let at = clock.capture_instant(100 * 1_800, VIDEO, arrival, Some(&video));
        assert_eq!(arrival - at, Duration::from_millis(30));
    }

    #[test]
    fn never_after_arrival_and_a_slowed_clock_is_taken_up() {
        let mut clock = CaptureClock::default();
        let start = Instant::now();
        let epoch = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sr = report(epoch, 0, VIDEO);
        clock.capture_instant(0, VIDEO, start, Some(&sr));
        // The publisher's clock is set back by a second: every packet now
        // seems to lag by it. Within two windows the offset takes it up.
        let set_back = report(epoch - Duration::from_secs(1), 0, VIDEO);
        let mut last = start;
        for n in 1..=200u32 {
            let arrival = start + Duration::from_millis(20) * n;
            let at = clock.capture_instant(n * 1_800, VIDEO, arrival, Some(&set_back));
            assert!(at <= arrival, "never after arrival");
            last = at;
            if n == 200 {
                assert!(arrival.duration_since(at) < MAX_LAG, "taken up: lags {:?}", arrival.duration_since(at));
            }
        }
        // A clock set ahead is taken at once: nothing after its arrival.
        let ahead = report(epoch + Duration::from_secs(5), 0, VIDEO);
        let arrival = start + Duration::from_secs(5);
        let at = clock.capture_instant(0, VIDEO, arrival, Some(&ahead));
        assert!(at <= arrival && at > last);
    }
}
