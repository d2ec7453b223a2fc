//! Post-processing of the session descriptions the core sends: the stream
//! id of each forwarded m-line names the participant whose media it carries
//! now. str0m fixes an m-line's msid when the line is added, and the core
//! recycles idle m-lines for new sources, so the ids are written here.

use std::collections::HashMap;

/// The receive-only media sections of a peer's offer, in order: the mid
/// and whether it is audio (else video). A client offers these to be sent
/// the room's media in the answer, without a second round.
pub fn receive_only_lines(sdp: &str) -> Vec<(String, bool)> {
    let mut lines = Vec::new();
    let mut section: Option<(Option<String>, bool, bool)> = None;
    let close = |section: Option<(Option<String>, bool, bool)>, lines: &mut Vec<(String, bool)>| {
        if let Some((Some(mid), audio, true)) = section {
            lines.push((mid, audio));
        }
    };
    for line in sdp.lines() {
        if let Some(media) = line.strip_prefix("m=") {
            close(section.take(), &mut lines);
            let kind = media.split(' ').next().unwrap_or_default();
            if kind == "audio" || kind == "video" {
                section = Some((None, kind == "audio", false));
            }
        } else if let Some((mid, _, receive_only)) = section.as_mut() {
            if let Some(value) = line.strip_prefix("a=mid:") {
                *mid = Some(value.trim().to_owned());
            } else if line.trim_end() == "a=recvonly" {
                *receive_only = true;
            }
        }
    }
    close(section, &mut lines);
    lines
}

/// Rewrites the stream id in the `a=msid:` and `a=ssrc:<n> msid:` lines of
/// every m-section whose mid is in `streams` (mid → stream id). Other lines
/// and sections are left exactly as they were.
pub fn with_stream_ids(sdp: &str, streams: &HashMap<String, String>) -> String {
    if streams.is_empty() {
        return sdp.to_owned();
    }
    let lines: Vec<&str> = sdp.split("\r\n").collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut section_start = 0;
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("m=") {
            flush_section(&lines[section_start..index], streams, &mut out);
            section_start = index;
        }
    }
    flush_section(&lines[section_start..], streams, &mut out);
    out.join("\r\n")
}

fn flush_section(section: &[&str], streams: &HashMap<String, String>, out: &mut Vec<String>) {
    let stream = section.iter().find_map(|line| line.strip_prefix("a=mid:")).and_then(|mid| streams.get(mid.trim()));
    for line in section {
        let rewritten = stream.and_then(|stream| rewrite_line(line, stream));
        out.push(rewritten.unwrap_or_else(|| (*line).to_owned()));
    }
}

/// `a=msid:<stream> <track>` or `a=ssrc:<n> msid:<stream> <track>` with the
/// stream replaced; None for any other line.
fn rewrite_line(line: &str, stream: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix("a=msid:") {
        let (_, track) = rest.split_once(' ')?;
        return Some(format!("a=msid:{stream} {track}"));
    }
    let rest = line.strip_prefix("a=ssrc:")?;
    let (ssrc, attribute) = rest.split_once(' ')?;
    let value = attribute.strip_prefix("msid:")?;
    let (_, track) = value.split_once(' ')?;
    Some(format!("a=ssrc:{ssrc} msid:{stream} {track}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:old-a track-a\r\na=ssrc:11 cname:x\r\na=ssrc:11 msid:old-a track-a\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=msid:old-b track-b\r\na=mid:1\r\na=sendonly\r\na=ssrc:22 msid:old-b track-b\r\n";

    #[test]
    fn stream_ids_follow_the_current_source_of_each_mid() {
        let streams = HashMap::from([("1".to_owned(), "participant-7".to_owned())]);
        let rewritten = with_stream_ids(OFFER, &streams);
        assert!(rewritten.contains("a=msid:old-a track-a\r\n"), "other m-lines keep theirs");
        assert!(rewritten.contains("a=msid:participant-7 track-b\r\n"));
        assert!(rewritten.contains("a=ssrc:22 msid:participant-7 track-b\r\n"));
        assert!(!rewritten.contains("old-b"));
        assert!(rewritten.ends_with("\r\n"), "the description still ends with a line break");
        assert_eq!(rewritten.len(), OFFER.len() + 2 * ("participant-7".len() - "old-b".len()));
    }

    #[test]
    fn receive_only_sections_are_listed_in_order() {
        let offer = "v=0\r\ns=-\r\nt=0 0\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\na=mid:3\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:4\r\na=recvonly\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\na=recvonly\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:5\r\na=inactive\r\n";
        assert_eq!(receive_only_lines(offer), vec![("3".to_owned(), true), ("4".to_owned(), false)]);
        assert_eq!(receive_only_lines(""), vec![]);
        assert_eq!(receive_only_lines("m=video\na=recvonly\n"), vec![], "no mid, no line");
    }

    #[test]
    fn a_description_without_known_mids_is_unchanged() {
        let streams = HashMap::from([("9".to_owned(), "someone".to_owned())]);
        assert_eq!(with_stream_ids(OFFER, &streams), OFFER);
        assert_eq!(with_stream_ids(OFFER, &HashMap::new()), OFFER);
    }
}
