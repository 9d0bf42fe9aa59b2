//! The steps of the stream loop ([`follow`](super::follow)), each a small value with no I/O
//! so that each can be tested alone: the watchdog, holding events during a resync, the version
//! check, decoding (with its logging and stats), and the `Event::Alive` throttle.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::decode::Decoded;
use super::super::protocol::Protocol;
use super::super::sse::{Frame, SseParser};
use super::super::stats::{FrameCounts, ServerStats};
use super::super::version::{self, Support};
use crate::model::event::Event;
use crate::server_url::ServerUrl;

/// At most this many directories are remembered from events between resyncs.
pub(super) const MAX_SEEN_DIRS: usize = 256;
/// The longest gap between two heartbeats the watchdog learns from (so a stalled-then-resumed
/// stream cannot disable it).
const MAX_LEARNED_GAP: Duration = Duration::from_secs(240);

/// When a stream that brings nothing is dead.
///
/// More than 2.5 heartbeat intervals without a complete frame (or an SSE comment) ends the
/// stream. The interval comes from the server's version (10 s from OpenCode 1.2, 30 s before and
/// when the version is not known yet: 25 s or 75 s with the default base) and grows to 2.5 times
/// the longest gap seen between two heartbeats, so a healthy stream is never dropped.
#[derive(Debug, Clone)]
pub(super) struct Watchdog {
    /// The limit for 10 s heartbeats (`ConnectionConfig::watchdog`).
    base: Duration,
    /// The limit the server's version asks for.
    by_version: Duration,
    /// 2.5 times the longest gap seen between two heartbeats.
    learned: Duration,
    /// When the last complete frame came (the stream's start before the first one).
    last_frame: Instant,
    last_heartbeat: Option<Instant>,
}

impl Watchdog {
    /// A watchdog for a stream opened at `now`; until the version is known it allows the
    /// slowest heartbeat of a supported server.
    pub(super) fn new(base: Duration, now: Instant) -> Watchdog {
        Watchdog {
            base,
            by_version: base * 3,
            learned: Duration::ZERO,
            last_frame: now,
            last_heartbeat: None,
        }
    }

    /// How long the stream may bring nothing.
    pub(super) fn limit(&self) -> Duration {
        self.by_version.max(self.learned)
    }

    /// When the stream is dead if nothing comes before.
    pub(super) fn deadline(&self) -> Instant {
        self.last_frame + self.limit()
    }

    /// A complete frame (or comment) came at `now`.
    pub(super) fn frame(&mut self, now: Instant) {
        self.last_frame = now;
    }

    /// A heartbeat came at `now`: learn the server's interval from the stream itself.
    pub(super) fn heartbeat(&mut self, now: Instant) {
        if let Some(prev) = self.last_heartbeat {
            let gap = now.saturating_duration_since(prev).min(MAX_LEARNED_GAP);
            self.learned = self.learned.max(gap.mul_f64(2.5));
        }
        self.last_heartbeat = Some(now);
    }

    /// The server's heartbeat interval is known (from its version).
    pub(super) fn heartbeat_interval(&mut self, interval: Duration) {
        self.by_version = self.base.mul_f64(interval.as_secs_f64() / 10.0);
    }
}

/// The version step: `Ok(heartbeat interval)` for a server ocbar follows, `Err(reason)` (the
/// stream's end reason) for one too old.
pub(super) fn check_version(version: Option<&str>) -> Result<Duration, String> {
    if version::support(version) == Support::TooOld {
        return Err(version::too_old_message(version.unwrap_or("")));
    }
    Ok(version::heartbeat_interval(version))
}

/// Model events held back while a resync runs, so that a change that raced the resync is
/// applied after its snapshot, never overwritten by it.
#[derive(Debug)]
pub(super) struct Holding {
    held: Vec<Event>,
    max: usize,
}

impl Holding {
    /// Hold at most `max` events (more ends the stream: see [`Holding::hold`]).
    pub(super) fn new(max: usize) -> Holding {
        Holding {
            held: Vec::new(),
            max,
        }
    }

    /// Keep `event` until the resync is done; `Err(reason)` when too many are held.
    pub(super) fn hold(&mut self, event: Event) -> Result<(), String> {
        if self.held.len() >= self.max {
            return Err("too many events while resyncing".to_owned());
        }
        self.held.push(event);
        Ok(())
    }

    /// The held events, in the order they came.
    pub(super) fn release(&mut self) -> std::vec::Drain<'_, Event> {
        self.held.drain(..)
    }
}

/// What a frame turned into, in stream order, before the async part of the loop handles it.
#[derive(Debug)]
pub(super) enum Item {
    /// `server.connected`: announce, then resync.
    Connected,
    /// An event for the model.
    Event(Event),
    /// A heartbeat (a heartbeat event, or an SSE comment).
    Tick,
}

/// The decoding step: body bytes in, [`Item`]s out, with the stats counted and bad frames
/// logged (the first three per stream; `doctor` counts the rest).
pub(super) struct FrameDecoder {
    parser: SseParser,
    protocol: Protocol,
    server: ServerUrl,
    /// The server's URL for log lines.
    url: String,
    stats: Arc<ServerStats>,
    bad_frames_logged: u32,
    /// What the pieces of the current read held, until [`FrameDecoder::counted`].
    counts: FrameCounts,
}

impl FrameDecoder {
    /// A decoder for one stream of `server` speaking `protocol`.
    pub(super) fn new(
        protocol: Protocol,
        server: ServerUrl,
        url: String,
        stats: Arc<ServerStats>,
        max_frame_bytes: usize,
    ) -> FrameDecoder {
        FrameDecoder {
            parser: SseParser::new(max_frame_bytes),
            protocol,
            server,
            url,
            stats,
            bad_frames_logged: 0,
            counts: FrameCounts::default(),
        }
    }

    /// Decode the next bytes of the body into `items`; remembers the directories events name
    /// in `seen_dirs` (for the next resync). A read's bytes may come in several pieces; call
    /// [`counted`](Self::counted) after its last. Nothing here waits.
    pub(super) fn push(
        &mut self,
        chunk: &[u8],
        seen_dirs: &mut BTreeSet<String>,
        items: &mut Vec<Item>,
    ) {
        let FrameDecoder {
            parser,
            protocol,
            server,
            url,
            stats,
            bad_frames_logged,
            counts,
        } = self;
        let mut bad = |reason: &str| {
            stats.decode_error(reason);
            if *bad_frames_logged < 3 {
                *bad_frames_logged += 1;
                let more = if *bad_frames_logged == 3 {
                    " (further ones are only counted: see 'ocbar doctor')"
                } else {
                    ""
                };
                crate::log!("ignoring a bad event frame from {url}: {reason}{more}");
            }
        };
        parser.push(chunk, |frame| {
            counts.frames += 1;
            let data = match frame {
                Frame::Data(d) => d,
                Frame::TooLarge => return bad("frame too large"),
                Frame::Comment => {
                    counts.noise += 1;
                    return items.push(Item::Tick);
                }
            };
            match protocol.decode(server, data) {
                Decoded::Noise => counts.noise += 1,
                Decoded::Unknown(kind) => stats.unknown(kind),
                Decoded::Heartbeat => {
                    counts.noise += 1;
                    items.push(Item::Tick);
                }
                Decoded::Event(Event::Connected { .. }, _) => {
                    counts.events += 1;
                    items.push(Item::Connected);
                }
                Decoded::Event(e, dir) => {
                    counts.events += 1;
                    if let Some(d) = dir
                        && seen_dirs.len() < MAX_SEEN_DIRS
                        && !seen_dirs.contains(d)
                    {
                        seen_dirs.insert(d.to_owned());
                    }
                    items.push(Item::Event(e));
                }
                Decoded::InstanceDisposed(d) => {
                    counts.events += 1;
                    seen_dirs.remove(d);
                }
                Decoded::GlobalDisposed => {
                    counts.events += 1;
                    seen_dirs.clear();
                }
                Decoded::Invalid(reason) => bad(reason),
            }
        });
    }

    /// The read is done: its counts go to the stats (once per read, not per frame). Returns
    /// how many frames (and comments) it completed.
    pub(super) fn counted(&mut self, now_ms: i64) -> u64 {
        let counts = std::mem::take(&mut self.counts);
        self.stats.frames(counts, now_ms);
        counts.frames
    }
}

/// `Event::Alive` at most once per interval: the model learns the stream lives without an
/// event per read.
#[derive(Debug)]
pub(super) struct AliveThrottle {
    interval: Duration,
    last: Option<Instant>,
}

impl AliveThrottle {
    /// At most one `Event::Alive` per `interval`.
    pub(super) fn new(interval: Duration) -> AliveThrottle {
        AliveThrottle {
            interval,
            last: None,
        }
    }

    /// Whether an `Event::Alive` is due at `now` (and, if so, it counts as sent).
    pub(super) fn due(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < self.interval)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_watchdog_follows_the_version_then_learns_longer_gaps() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(25 * S, t0);
        assert_eq!(
            w.limit(),
            75 * S,
            "unknown version: the slowest supported server"
        );
        w.heartbeat_interval(10 * S);
        assert_eq!(w.limit(), 25 * S);
        assert_eq!(w.deadline(), t0 + 25 * S);
        w.frame(t0 + 5 * S);
        assert_eq!(w.deadline(), t0 + 30 * S);
        // Heartbeats 15 s apart (OpenCode 2's comments): the limit grows to 37.5 s.
        w.heartbeat(t0 + 5 * S);
        w.heartbeat(t0 + 20 * S);
        assert_eq!(w.limit(), Duration::from_millis(37_500));
        // A stall of an hour is capped, so the watchdog stays useful.
        w.heartbeat(t0 + 3620 * S);
        assert_eq!(w.limit(), 600 * S);
    }

    #[test]
    fn too_old_versions_end_the_stream() {
        assert!(check_version(Some("0.5.0")).is_err());
        assert_eq!(check_version(Some("1.18.33")), Ok(10 * S));
        assert_eq!(check_version(None), Ok(30 * S));
    }

    #[test]
    fn holding_keeps_the_order_and_is_bounded() {
        let mut h = Holding::new(2);
        h.hold(Event::Tick).unwrap();
        h.hold(Event::Alive {
            server: ServerUrl::from("http://a:1"),
        })
        .unwrap();
        assert!(h.hold(Event::Tick).is_err());
        let released: Vec<Event> = h.release().collect();
        assert!(matches!(
            released.as_slice(),
            [Event::Tick, Event::Alive { .. }]
        ));
        assert!(h.hold(Event::Tick).is_ok(), "released events free room");
    }

    #[test]
    fn decoding_turns_frames_and_comments_into_items() {
        let server = ServerUrl::from("http://127.0.0.1:1");
        let stats = Arc::new(ServerStats::new(server.to_string()));
        let mut d = FrameDecoder::new(
            Protocol::V1,
            server.clone(),
            server.to_string(),
            stats.clone(),
            1 << 20,
        );
        let mut dirs = BTreeSet::new();
        let mut items = Vec::new();
        let body = concat!(
            "data: {\"directory\":\"/p\",\"payload\":{\"type\":\"server.connected\",\"properties\":{}}}\n\n",
            ": heartbeat\n\n",
            "data: {\"payload\":{\"type\":\"server.heartbeat\",\"properties\":{}}}\n\n",
            "data: {\"payload\":{\"type\":\"session.status\",\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"busy\"}}},\"directory\":\"/p\"}\n\n",
            "data: not json\n\n",
            "data: {\"payload\":{\"type\":\"message.part.delta\"",
        );
        // Cut anywhere, the same items come out.
        for cut in [0, 1, 40, body.len() / 2, body.len() - 3] {
            items.clear();
            let mut d2 = FrameDecoder::new(
                Protocol::V1,
                server.clone(),
                server.to_string(),
                stats.clone(),
                1 << 20,
            );
            // (One read's bytes, in two pieces: counted once.)
            d2.push(&body.as_bytes()[..cut], &mut dirs, &mut items);
            d2.push(&body.as_bytes()[cut..], &mut dirs, &mut items);
            assert_eq!(d2.counted(0), 5, "cut at {cut}");
            assert_eq!(items.len(), 4, "cut at {cut}: {items:?}");
        }
        items.clear();
        let frames_before = stats.view().frames;
        d.push(body.as_bytes(), &mut dirs, &mut items);
        assert_eq!(
            d.counted(7),
            5,
            "the unfinished last frame waits for its end"
        );
        let view = stats.view();
        assert_eq!(view.frames - frames_before, 5, "counted in the stats once");
        assert_eq!(view.last_frame_ms, 7);
        assert_eq!(d.counted(8), 0, "nothing since");
        assert!(matches!(
            items.as_slice(),
            [Item::Connected, Item::Tick, Item::Tick, Item::Event(_)]
        ));
        assert!(dirs.contains("/p"));
        assert!(stats.view().decode_errors >= 1);
    }

    #[test]
    fn alive_is_throttled() {
        let t0 = Instant::now();
        let mut a = AliveThrottle::new(S);
        assert!(a.due(t0));
        assert!(!a.due(t0 + S / 2));
        assert!(a.due(t0 + S));
    }
}
