//! UDP datagrams into the SFU's sans-IO core (`SfuCore::handle_datagram`).
//!
//! A room with two connected publishers, alice and bob, each a str0m client
//! in RTP mode on a lossless, delay-free simulated network (ICE, DTLS and
//! SRTP done; each receives the other's media; see `common`). The input is
//! a list of operations, each starting with one byte:
//!
//! - `% 5 == 0`: a raw datagram (u16 length, little endian, then the bytes)
//!   from alice's address, whose ICE pair is nominated, so str0m takes it;
//! - `% 5 == 1`: a raw datagram from bob (bit 3 clear) or from an address no
//!   peer knows (bit 3 set);
//! - `% 5 == 2`: an RTP packet that alice's client encrypts and sends: bit 3
//!   picks audio (Opus) or video (VP8), bit 4 the marker; then u16 sequence
//!   number, u32 timestamp, an audio level byte, a u8 length and the payload.
//!   Fuzzed bytes cannot pass SRTP authentication, so this is how they reach
//!   the core's own forwarding, keyframe, VP8 and speaker code;
//! - `% 5 == 3`: time passes (next byte × 4 ms);
//! - `% 5 == 4`: bob's receive limit (u32 bits per second, 0 for none).
//!
//! After each operation the network delivers everything in flight, so the
//! core's answers reach the clients and theirs the core.
//!
//! Building the connected room costs about a fifth of a second under the
//! fuzzer's instrumentation (str0m's SDP parser, mostly), so one room serves
//! up to 64 inputs (or until a peer of it fails); a crash found that way may
//! need the inputs before it. `SILTA_FUZZ_FRESH_ROOM=1` builds a room for
//! every input, so a crash input replays alone, deterministically.

#![no_main]

mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::{Room, stranger_address};
use libfuzzer_sys::fuzz_target;
use silta_proto::v1::media::MediaCommand;

/// Inputs one connected room serves before it is built anew.
const INPUTS_PER_ROOM: u32 = 64;

/// Reads the input front to back; missing bytes read as zero.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }

    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | (u32::from(self.u16()) << 16)
    }

    fn bytes(&mut self, length: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(length.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

thread_local! {
    static ROOM: RefCell<Option<Room>> = const { RefCell::new(None) };
}

fn run(room: &mut Room, data: &[u8]) {
    let mut input = Reader(data);
    while let Some(operation) = input.byte() {
        match operation % 5 {
            0 => {
                let length = usize::from(input.u16());
                let contents = input.bytes(length);
                let source = room.clients[0].address;
                room.core.handle_datagram(room.now, source, contents);
                room.deliver();
            }
            1 => {
                let length = usize::from(input.u16());
                let contents = input.bytes(length);
                let source = if operation & 0x08 == 0 { room.clients[1].address } else { stranger_address() };
                room.core.handle_datagram(room.now, source, contents);
                room.deliver();
            }
            2 => {
                let (audio, marker) = (operation & 0x08 != 0, operation & 0x10 != 0);
                let sequence = input.u16();
                let timestamp = input.u32();
                let level = input.byte().unwrap_or(0);
                let length = usize::from(input.byte().unwrap_or(0));
                let payload = input.bytes(length);
                room.send_rtp(audio, marker, sequence, timestamp, level, payload);
            }
            3 => {
                let step = u64::from(input.byte().unwrap_or(0)) * 4;
                room.advance(Duration::from_millis(step));
            }
            _ => {
                let limit = input.u32();
                let command = MediaCommand::SetReceiveLimit {
                    room: room.room.clone(),
                    participant: room.clients[1].participant.clone(),
                    max_bitrate_bps: (limit != 0).then_some(u64::from(limit)),
                };
                let _ = room.core.handle_command(room.now, command);
                room.deliver();
            }
        }
    }
    room.advance(Duration::from_millis(20));
}

fuzz_target!(|data: &[u8]| {
    let fresh = std::env::var_os("SILTA_FUZZ_FRESH_ROOM").is_some();
    ROOM.with_borrow_mut(|slot| {
        let reusable = slot.as_ref().is_some_and(|room| !fresh && !room.broken && room.inputs < INPUTS_PER_ROOM);
        if !reusable {
            *slot = Some(Room::connected(None));
        }
        let room = slot.as_mut().expect("a room was just built");
        room.inputs += 1;
        run(room, data);
    });
});
