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

/// The numbering a VP8 packet carries, read once per packet before it is
/// fanned out to subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbering {
    /// PictureID and its modulus (2^7 or 2^15), if present.
    picture_id: Option<(u16, u16)>,
    /// TL0PICIDX, if present.
    tl0_pic_idx: Option<u8>,
}

impl Numbering {
    /// Reads the descriptor; None for a payload too short to carry one.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let first = *payload.first()?;
        let mut numbering = Self { picture_id: None, tl0_pic_idx: None };
        if first & 0x80 == 0 {
            return Some(numbering);
        }
        let extension = *payload.get(1)?;
        let mut at = 2;
        if extension & 0x80 != 0 {
            let byte = *payload.get(at)?;
            if byte & 0x80 != 0 {
                let low = *payload.get(at + 1)?;
                numbering.picture_id = Some((u16::from_be_bytes([byte & 0x7f, low]), 0x8000));
                at += 2;
            } else {
                numbering.picture_id = Some((u16::from(byte), 0x80));
                at += 1;
            }
        }
        if extension & 0x40 != 0 {
            numbering.tl0_pic_idx = Some(*payload.get(at)?);
        }
        Some(numbering)
    }
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

    /// The numbers a packet numbered `incoming` must carry on this stream,
    /// when they differ from its own (None: forward it unchanged).
    pub fn next(&mut self, incoming: Numbering) -> Option<Numbers> {
        let mut numbers = Numbers { picture_id: None, tl0_pic_idx: None };
        let mut changed = false;
        if let Some((picture_id, modulus)) = incoming.picture_id {
            if self.rebase
                && let Some(last) = self.last_picture_id
            {
                let wanted = (last + 1) % modulus;
                self.picture_offset = wanted.wrapping_sub(picture_id) % modulus;
            }
            let out = picture_id.wrapping_add(self.picture_offset) % modulus;
            changed |= out != picture_id;
            numbers.picture_id = Some(out);
            self.last_picture_id = Some(out);
        }
        if let Some(tl0) = incoming.tl0_pic_idx {
            if self.rebase
                && let Some(last) = self.last_tl0
            {
                self.tl0_offset = last.wrapping_add(1).wrapping_sub(tl0);
            }
            let out = tl0.wrapping_add(self.tl0_offset);
            changed |= out != tl0;
            numbers.tl0_pic_idx = Some(out);
            self.last_tl0 = Some(out);
        }
        self.rebase = false;
        changed.then_some(numbers)
    }

    /// The patch str0m applies while it writes `payload` (no copy of the
    /// payload), when its numbers change on this stream.
    pub fn patch(&mut self, payload: &[u8], incoming: Numbering) -> Option<Vp8Patch> {
        let numbers = self.next(incoming)?;
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

    fn next(numbering: &mut Vp8Numbering, payload: &[u8]) -> Option<Numbers> {
        Numbering::read(payload).and_then(|incoming| numbering.next(incoming))
    }

    fn patch(numbering: &mut Vp8Numbering, payload: &[u8]) -> Option<Vp8Patch> {
        numbering.patch(payload, Numbering::read(payload)?)
    }

    fn numbers(picture_id: u16, tl0: u8) -> Option<Numbers> {
        Some(Numbers { picture_id: Some(picture_id), tl0_pic_idx: Some(tl0) })
    }

    #[test]
    fn unchanged_until_the_first_switch() {
        let mut numbering = Vp8Numbering::default();
        assert_eq!(next(&mut numbering, &packet(1234, 7)), None);
        assert!(patch(&mut numbering, &packet(1235, 8)).is_none());
    }

    #[test]
    fn a_switch_continues_picture_ids_and_tl0_indices() {
        let mut numbering = Vp8Numbering::default();
        for n in 0..5 {
            assert_eq!(next(&mut numbering, &packet(30_000 + n, 200 + n as u8)), None);
        }
        // The other layer numbers far behind.
        numbering.switch_source();
        assert_eq!(next(&mut numbering, &packet(12, 3)), numbers(30_005, 205));
        assert_eq!(next(&mut numbering, &packet(13, 4)), numbers(30_006, 206));
        // Wrapping at 15 bits and 8 bits.
        assert_eq!(
            next(&mut numbering, &packet(12 + 2767, 3 + 60)),
            numbers((30_005 + 2767) % 0x8000, 205u8.wrapping_add(60))
        );
        // str0m builds a patch for a changed packet.
        assert!(patch(&mut numbering, &packet(14, 5)).is_some());
    }

    #[test]
    fn seven_bit_picture_ids_wrap_at_128() {
        let mut numbering = Vp8Numbering::default();
        assert_eq!(next(&mut numbering, &[0x90, 0x80, 100, 0x9d]), None);
        numbering.switch_source();
        let seven = |id| Some(Numbers { picture_id: Some(id), tl0_pic_idx: None });
        assert_eq!(next(&mut numbering, &[0x90, 0x80, 5, 0x9d]), seven(101));
        assert_eq!(next(&mut numbering, &[0x90, 0x80, 32, 0x9d]), seven(0));
        assert!(patch(&mut numbering, &[0x90, 0x80, 33, 0x9d]).is_some());
    }

    #[test]
    fn short_or_plain_payloads_are_left_alone() {
        let mut numbering = Vp8Numbering::default();
        for payload in [vec![], vec![0x90], vec![0x90, 0x80], vec![0x90, 0x80, 0x80], vec![0x10, 0x00, 0x9d]] {
            numbering.switch_source();
            assert_eq!(next(&mut numbering, &payload), None, "{payload:?}");
        }
    }
}
