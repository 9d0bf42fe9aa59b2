//! The `sse_decode` target: bytes as they come off the network → `SseParser` → `decode`.
//!
//! Checked:
//! - the frames do not depend on how the body was cut into chunks (one chunk, or chunks of
//!   fuzzed sizes including empty ones, as a network read may deliver);
//! - a data frame never exceeds the limit, never contains CR, and an oversized frame is
//!   reported as such;
//! - `decode_frame` (the daemon's path: bytes, checked for UTF-8 only when read further than
//!   their head) agrees with `decode` of the same frame as text, and calls a frame that is not
//!   UTF-8 noise, unknown or invalid, never an event;
//! - `decode` never panics, attaches the given server to every event, and its fast path (the
//!   `type` read off the head of the frame) agrees with the full JSON path: a frame decodes the
//!   same with a leading space (which disables the fast path), except that the fast path may
//!   call noise a frame whose tail is malformed.

use ocbar::daemon::source::sse::{Frame, SseParser};
use ocbar::daemon::source::{Decoded, decode, decode_frame};
use ocbar::model::event::Event;
use ocbar::server_url::ServerUrl;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Data(Vec<u8>),
    TooLarge,
    Comment,
}

fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Owned> {
    let mut p = SseParser::new(max);
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, |f| {
            out.push(match f {
                Frame::Data(s) => Owned::Data(s.to_vec()),
                Frame::TooLarge => Owned::TooLarge,
                Frame::Comment => Owned::Comment,
            })
        });
    }
    out
}

/// Chunk sizes from a seed byte: a small xorshift, sizes 0..=31 (0: an empty read).
fn cut(body: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut x = u32::from(seed) | 0x100;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x % 32) as usize;
        let n = n.min(rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

/// Server every decoded event must carry.
fn server() -> ServerUrl {
    ServerUrl::from("http://127.0.0.1:4096")
}

/// Decode one frame's bytes as the daemon does and check that the text decoder agrees.
pub fn check_frame(server: &ServerUrl, data: &[u8]) {
    let got = decode_frame(server, data);
    match std::str::from_utf8(data) {
        Ok(text) => {
            assert_eq!(
                got,
                decode(server, text),
                "bytes and text disagree on {text:?}"
            );
            check_decode(server, text);
        }
        Err(_) => assert!(
            matches!(
                got,
                Decoded::Noise | Decoded::Heartbeat | Decoded::Unknown(_) | Decoded::Invalid(_)
            ),
            "a frame that is not UTF-8 decoded to {got:?}"
        ),
    }
}

/// Decode one data frame and check the decoder's promises.
pub fn check_decode(server: &ServerUrl, data: &str) {
    let fast = decode(server, data);
    if let Decoded::Event(e, dir) = &fast {
        assert_eq!(e.server(), Some(server), "event of another server: {e:?}");
        if let Some(d) = dir {
            assert!(!d.is_empty() && *d != "global", "directory hint {d:?}");
        }
        if let Event::Status { directory, .. } = e {
            assert!(directory.len() <= data.len());
        }
    }
    let spaced = format!(" {data}");
    let slow = decode(server, &spaced);
    if fast != slow {
        assert!(
            matches!(fast, Decoded::Noise | Decoded::Heartbeat)
                && matches!(slow, Decoded::Invalid(_)),
            "fast path and full decode disagree on {data:?}: {fast:?} vs {slow:?}"
        );
    }
}

/// The `sse_decode` fuzz target. Byte 0 picks the frame limit, byte 1 the chunking.
pub fn run(data: &[u8]) {
    let [a, b, body @ ..] = data else {
        return;
    };
    let max = [16usize, 64, 256, 4096, 1 << 20][usize::from(*a) % 5];
    let whole = frames(max, &[body]);
    let chunks = cut(body, *b);
    let split = frames(max, &chunks);
    assert_eq!(whole, split, "frames depend on chunking: {chunks:?}");
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(whole, frames(max, &bytes), "frames differ byte by byte");
    let server = server();
    for f in &whole {
        match f {
            Owned::Data(s) => {
                assert!(
                    s.len() <= max,
                    "frame of {} bytes over the limit {max}",
                    s.len()
                );
                assert!(!s.contains(&b'\r'), "CR inside a frame: {s:?}");
                check_frame(&server, s);
            }
            Owned::TooLarge | Owned::Comment => {}
        }
    }
    // Decode the body as one frame too: most fuzzed bodies are not SSE at all, and this
    // reaches the decoder with JSON the framer would have split.
    if let Ok(s) = std::str::from_utf8(body) {
        check_decode(&server, s);
    }
}
