//! Documents in the call: a still of the kiosk's document camera to the
//! expert, a PDF or image from the expert to the kiosk. They travel on the
//! call channel (`channels`) in parts the node passes on as they come and
//! never keeps; it reads only their frames' headers, to hold every document
//! to the limits (type, size) whatever its sender's page did, and to tell
//! the signal service when one has passed whole (who to whom, type, size:
//! the audit log's line, never the content or a name).
//!
//! Payloads on the call channel that begin with these bytes are a
//! document's frames (all numbers big-endian); anything else (JSON: live
//! text, acknowledgements) passes untouched.
//!
//! - start `[0x01][id u32][type u8][size u32][purpose u8]`: a document of
//!   `size` bytes (1 ..= 10 MiB) of type 1 PDF, 2 PNG, 3 JPEG. Its
//!   recipients are fixed now: those the frame names that are in the room
//!   (or everyone else). `purpose` is the pages' own (a still, a handout).
//! - part `[0x02][id u32][offset u32][bytes…]`: the bytes at `offset`. A
//!   part may repeat what has passed (a recipient's copy was dropped and
//!   is sent again, addressed to it alone) but never leave a gap; the first
//!   bytes must be the type's signature (`%PDF-`, PNG's, JPEG's).
//! - refused, from the node to the sender (a frame whose sender id is
//!   empty): `[0x03][id u32][reason u8]`, reason 1 too large, 2 not an
//!   allowed type, 3 malformed or out of order, 4 too many at once,
//!   5 unknown (ended, or never started). The node forgets the document.
//!
//! Flow control is the pages' own: recipients acknowledge what they hold,
//! the sender keeps a window of parts in flight per recipient and sends
//! again what was not acknowledged, so a part the node drops (the
//! recipient's channel full) costs a resend, never the document.

use silta_proto::v1::media::FileType;

use super::*;

/// The first byte of a document's start frame.
pub const DOCUMENT_START: u8 = 0x01;
/// The first byte of a document's part.
pub const DOCUMENT_PART: u8 = 0x02;
/// The first byte of a refusal from the node.
pub const DOCUMENT_REFUSED: u8 = 0x03;

/// Documents a participant may have on their way at once.
const MAX_TRANSFERS: usize = 4;
/// A document nothing has passed for this long is forgotten.
const TRANSFER_IDLE: Duration = Duration::from_secs(120);

/// Why a document was refused (the refusal frame's reason byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Refusal {
    /// Larger than the limit, or more bytes than it said it has.
    TooLarge = 1,
    /// Not a PDF, PNG or JPEG (by its code or its first bytes).
    WrongType = 2,
    /// A frame too short, or a part that leaves a gap.
    Malformed = 3,
    /// The sender has too many documents on their way.
    TooMany = 4,
    /// A part of a document the node does not know.
    Unknown = 5,
}

/// A document on its way, as the node knows it: no byte of it.
#[derive(Debug)]
pub(super) struct Transfer {
    kind: FileType,
    size: u32,
    /// Bytes passed so far, from the start without a gap.
    passed: u32,
    recipients: Vec<PeerKey>,
    /// Reported as passed (once).
    reported: bool,
    last: Instant,
}

/// What the node does with a document's frame.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Pass it to these peers.
    Pass(Vec<PeerKey>),
    /// Refuse it: tell the sender.
    Refuse(u32, Refusal),
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The refusal frame for the sender: an empty sender id (the node), then
/// the payload.
pub(super) fn refusal_frame(id: u32, reason: Refusal) -> Vec<u8> {
    let mut frame = vec![0, DOCUMENT_REFUSED];
    frame.extend_from_slice(&id.to_be_bytes());
    frame.push(reason as u8);
    frame
}

/// Whether a payload is a document's frame (rather than opaque).
pub(super) fn is_document_frame(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(&DOCUMENT_START | &DOCUMENT_PART))
}

impl SfuCore {
    /// A document's frame from `key`: `others` are the room's other peers,
    /// `named` those of them the frame names (`None`: it names nobody, so
    /// it is for everyone the document is for).
    pub(super) fn document_frame(
        &mut self,
        key: PeerKey,
        payload: &[u8],
        others: Vec<PeerKey>,
        named: Option<Vec<PeerKey>>,
        now: Instant,
    ) -> Verdict {
        let Some(sender) = self.peers.get_mut(&key) else { return Verdict::Pass(Vec::new()) };
        let Some(id) = read_u32(payload, 1) else { return Verdict::Refuse(0, Refusal::Malformed) };
        if payload[0] == DOCUMENT_START {
            let (Some(&code), Some(size)) = (payload.get(5), read_u32(payload, 6)) else {
                return Verdict::Refuse(id, Refusal::Malformed);
            };
            let Some(kind) = FileType::from_code(code) else { return Verdict::Refuse(id, Refusal::WrongType) };
            if size == 0 || size > FileType::MAX_SIZE {
                return Verdict::Refuse(id, Refusal::TooLarge);
            }
            // A start sent again (a recipient's copy was lost) goes to those
            // it names among the document's recipients; it starts nothing.
            if let Some(transfer) = sender.transfers.get(&id) {
                let to = transfer.recipients.iter().copied();
                return Verdict::Pass(match &named {
                    None => to.collect(),
                    Some(named) => to.filter(|recipient| named.contains(recipient)).collect(),
                });
            }
            sender.transfers.retain(|_, transfer| now.duration_since(transfer.last) < TRANSFER_IDLE);
            if sender.transfers.len() >= MAX_TRANSFERS {
                return Verdict::Refuse(id, Refusal::TooMany);
            }
            let recipients = named.unwrap_or(others);
            sender.transfers.insert(
                id,
                Transfer { kind, size, passed: 0, recipients: recipients.clone(), reported: false, last: now },
            );
            return Verdict::Pass(recipients);
        }
        let Some(offset) = read_u32(payload, 5) else { return Verdict::Refuse(id, Refusal::Malformed) };
        let bytes = &payload[9..];
        let Some(transfer) = sender.transfers.get_mut(&id) else { return Verdict::Refuse(id, Refusal::Unknown) };
        let end = u32::try_from(bytes.len()).ok().and_then(|length| offset.checked_add(length));
        let refusal = match end {
            _ if bytes.is_empty() || offset > transfer.passed => Some(Refusal::Malformed),
            None => Some(Refusal::TooLarge),
            Some(end) if end > transfer.size => Some(Refusal::TooLarge),
            _ if offset == 0 && !transfer.kind.matches(bytes) => Some(Refusal::WrongType),
            _ => None,
        };
        if let Some(reason) = refusal {
            sender.transfers.remove(&id);
            return Verdict::Refuse(id, reason);
        }
        let end = end.unwrap_or(transfer.passed);
        transfer.passed = transfer.passed.max(end);
        transfer.last = now;
        // A part sent again goes to those it names (the recipients whose
        // copy was lost), never beyond the document's recipients.
        let to: Vec<PeerKey> = match &named {
            None => transfer.recipients.clone(),
            Some(named) => transfer.recipients.iter().copied().filter(|recipient| named.contains(recipient)).collect(),
        };
        if transfer.passed == transfer.size && !transfer.reported {
            transfer.reported = true;
            let (kind, size, recipients) = (transfer.kind, transfer.size, transfer.recipients.clone());
            let (room, from) = (sender.room.clone(), sender.participant.clone());
            let to = recipients.iter().filter_map(|peer| self.peers.get(peer)).map(|peer| peer.participant.clone());
            self.events.push_back(MediaEvent::DocumentPassed { room, from, to: to.collect(), media_type: kind, size });
        }
        Verdict::Pass(to)
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_node_as_its_sender() {
        assert_eq!(refusal_frame(0x0102_0304, Refusal::WrongType), vec![0, 3, 1, 2, 3, 4, 2]);
        assert!(is_document_frame(&[1, 0]) && is_document_frame(&[2]));
        assert!(!is_document_frame(b"{\"kind\":\"text\"}") && !is_document_frame(&[]));
    }
}
