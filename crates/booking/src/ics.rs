//! iCalendar (RFC 5545) for confirmations and the per-expert feed. Events
//! name the agency, service and place — never the citizen.

use chrono::{DateTime, Utc};

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Stable id (the appointment id).
    pub uid: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Title.
    pub summary: String,
    /// Place.
    pub location: String,
    /// Cancelled events are sent with `STATUS:CANCELLED`.
    pub cancelled: bool,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), not splitting a
/// character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        let size = c.len_utf8();
        if width + size > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += size;
    }
    out.push_str("\r\n");
    out
}

fn stamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A calendar with `events`; `method` is `REQUEST`, `CANCEL` or `PUBLISH`.
pub fn calendar(method: &str, events: &[Event], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for line in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Silta//Booking//EN", "CALSCALE:GREGORIAN"] {
        out.push_str(&fold(line));
    }
    out.push_str(&fold(&format!("METHOD:{method}")));
    for event in events {
        out.push_str(&fold("BEGIN:VEVENT"));
        out.push_str(&fold(&format!("UID:{}@silta", escape(&event.uid))));
        out.push_str(&fold(&format!("DTSTAMP:{}", stamp(now))));
        out.push_str(&fold(&format!("DTSTART:{}", stamp(event.starts_at))));
        out.push_str(&fold(&format!("DTEND:{}", stamp(event.ends_at))));
        out.push_str(&fold(&format!("SUMMARY:{}", escape(&event.summary))));
        out.push_str(&fold(&format!("LOCATION:{}", escape(&event.location))));
        out.push_str(&fold(if event.cancelled { "STATUS:CANCELLED" } else { "STATUS:CONFIRMED" }));
        out.push_str(&fold("END:VEVENT"));
    }
    out.push_str(&fold("END:VCALENDAR"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_crlf_escaped_and_folded() {
        let start = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let event = Event {
            uid: "a1".into(),
            starts_at: start,
            ends_at: start + chrono::Duration::minutes(30),
            summary: "Verohallinto, Skatteförvaltningen; etäpalvelu ".repeat(3),
            location: "Valtakatu 1, Kemi".into(),
            cancelled: false,
        };
        let text = calendar("REQUEST", &[event], start);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(text.contains("LOCATION:Valtakatu 1\\, Kemi\r\n"));
        assert!(text.contains("\\;"));
        assert!(text.split("\r\n").all(|line| line.len() <= 75));
        assert!(text.contains("\r\n "), "the long summary is folded");
    }
}
