//! VP8 payload descriptor continuity across simulcast switches (RFC 7741).
//!
//! Each simulcast layer numbers its pictures on its own (PictureID,
//! TL0PICIDX). A receiver treats a picture id that jumps backwards as a late
//! frame and may drop what follows, so a subscriber's stream must continue
//! the numbering it has seen: after a switch the new layer's ids are offset
//! to follow the last ones forwarded. str0m applies the new numbers as a
//! fixed-size patch while it writes the packet (the field widths never
//! change, the payload is not copied).

use str0m::rtp::{Vp8Descriptor, Vp8Patch};

/// The descriptor fields that carry numbering, where this payload has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fields {
    /// Byte offset and width (7 or 15 bits) of the PictureID.
    picture_id: Option<(usize, u8)>,
    /// Byte offset of TL0PICIDX.
    tl0_pic_idx: Option<usize>,
}

fn fields(payload: &[u8]) -> Option<Fields> {
    let first = *payload.first()?;
    let mut fields = Fields { picture_id: None, tl0_pic_idx: None };
    if first & 0x80 == 0 {
        return Some(fields);
    }
    let extension = *payload.get(1)?;
    let mut at = 2;
    if extension & 0x80 != 0 {
        let byte = *payload.get(at)?;
        if byte & 0x80 != 0 {
            payload.get(at + 1)?;
            fields.picture_id = Some((at, 15));
            at += 2;
        } else {
            fields.picture_id = Some((at, 7));
            at += 1;
        }
    }
    if extension & 0x40 != 0 {
        payload.get(at)?;
        fields.tl0_pic_idx = Some(at);
    }
    Some(fields)
}

fn read_picture_id(payload: &[u8], (at, bits): (usize, u8)) -> u16 {
    if bits == 15 { u16::from_be_bytes([payload[at] & 0x7f, payload[at + 1]]) } else { u16::from(payload[at] & 0x7f) }
}

/// The numbers a forwarded packet carries after rewriting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    /// PictureID, if the descriptor has one.
    pub picture_id: Option<u16>,
    /// TL0PICIDX, if the descriptor has one.
    pub tl0_pic_idx: Option<u8>,
}

/// Per outgoing stream: offsets that keep the numbering continuous.
#[derive(Debug, Default, Clone)]
pub struct Vp8Numbering {
    picture_offset: u16,
    tl0_offset: u8,
    last_picture_id: Option<u16>,
    last_tl0: Option<u8>,
    /// Set at a switch: the next picture's numbers follow the last ones.
    rebase: bool,
}

impl Vp8Numbering {
    /// The next packet comes from another layer (and starts a keyframe).
    pub fn switch_source(&mut self) {
        self.rebase = true;
    }

    /// The numbers `payload` must carry on this stream, when they differ
    /// from its own (None: forward it unchanged).
    pub fn next(&mut self, payload: &[u8]) -> Option<Numbers> {
        let fields = fields(payload)?;
        let mut numbers = Numbers { picture_id: None, tl0_pic_idx: None };
        let mut changed = false;
        if let Some(place) = fields.picture_id {
            let incoming = read_picture_id(payload, place);
            let modulus: u16 = if place.1 == 15 { 0x8000 } else { 0x80 };
            if self.rebase
                && let Some(last) = self.last_picture_id
            {
                let wanted = (last + 1) % modulus;
                self.picture_offset = wanted.wrapping_sub(incoming) % modulus;
            }
            let out = incoming.wrapping_add(self.picture_offset) % modulus;
            changed |= out != incoming;
            numbers.picture_id = Some(out);
            self.last_picture_id = Some(out);
        }
        if let Some(at) = fields.tl0_pic_idx {
            let incoming = payload[at];
            if self.rebase
                && let Some(last) = self.last_tl0
            {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(incoming);
            }
            let out = incoming.wrapping_add(self.tl0_offset);
            changed |= out != incoming;
            numbers.tl0_pic_idx = Some(out);
            self.last_tl0 = Some(out);
        }
        self.rebase = false;
        changed.then_some(numbers)
    }

    /// The patch str0m applies while it writes the packet (no copy of the
    /// payload), when the numbers change.
    pub fn patch(&mut self, payload: &[u8]) -> Option<Vp8Patch> {
        let numbers = self.next(payload)?;
        let mut builder = Vp8Descriptor::parse(payload).ok()?.patch();
        if let Some(picture_id) = numbers.picture_id {
            builder = builder.picture_id(picture_id);
        }
        if let Some(tl0) = numbers.tl0_pic_idx {
            builder = builder.tl0_pic_idx(tl0);
        }
        builder.build().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor with a 15-bit picture id, TL0PICIDX and TID (what
    /// browsers send).
    fn packet(picture_id: u16, tl0: u8) -> Vec<u8> {
        let [high, low] = picture_id.to_be_bytes();
        vec![0x90, 0xe0, 0x80 | (high & 0x7f), low, tl0, 0x20, 0x9d, 0x01, 0x2a]
    }

    fn numbers(picture_id: u16, tl0: u8) -> Option<Numbers> {
        Some(Numbers { picture_id: Some(picture_id), tl0_pic_idx: Some(tl0) })
    }

    #[test]
    fn unchanged_until_the_first_switch() {
        let mut numbering = Vp8Numbering::default();
        assert_eq!(numbering.next(&packet(1234, 7)), None);
        assert!(numbering.patch(&packet(1235, 8)).is_none());
    }

    #[test]
    fn a_switch_continues_picture_ids_and_tl0_indices() {
        let mut numbering = Vp8Numbering::default();
        for n in 0..5 {
            assert_eq!(numbering.next(&packet(30_000 + n, 200 + n as u8)), None);
        }
        // The other layer numbers far behind.
        numbering.switch_source();
        assert_eq!(numbering.next(&packet(12, 3)), numbers(30_005, 205));
        assert_eq!(numbering.next(&packet(13, 4)), numbers(30_006, 206));
        // Wrapping at 15 bits and 8 bits.
        assert_eq!(
            numbering.next(&packet(12 + 2767, 3 + 60)),
            numbers((30_005 + 2767) % 0x8000, 205u8.wrapping_add(60))
        );
        // str0m builds a patch for a changed packet.
        assert!(numbering.patch(&packet(14, 5)).is_some());
    }

    #[test]
    fn seven_bit_picture_ids_wrap_at_128() {
        let mut numbering = Vp8Numbering::default();
        assert_eq!(numbering.next(&[0x90, 0x80, 100, 0x9d]), None);
        numbering.switch_source();
        let seven = |id| Some(Numbers { picture_id: Some(id), tl0_pic_idx: None });
        assert_eq!(numbering.next(&[0x90, 0x80, 5, 0x9d]), seven(101));
        assert_eq!(numbering.next(&[0x90, 0x80, 32, 0x9d]), seven(0));
        assert!(numbering.patch(&[0x90, 0x80, 33, 0x9d]).is_some());
    }

    #[test]
    fn short_or_plain_payloads_are_left_alone() {
        let mut numbering = Vp8Numbering::default();
        for payload in [vec![], vec![0x90], vec![0x90, 0x80], vec![0x90, 0x80, 0x80], vec![0x10, 0x00, 0x9d]] {
            numbering.switch_source();
            assert_eq!(numbering.next(&payload), None, "{payload:?}");
        }
    }
}
