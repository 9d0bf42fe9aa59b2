//! The `render` target: an arbitrary snapshot through every bar format and the panel.
//!
//! Checked for every output: one line (the JSON and waybar lines too), no control characters,
//! tmux output parses as tmux would with every `#` from data doubled, starship output is the
//! plain line plus SGR only, waybar is one JSON object whose `text` and `tooltip` are valid
//! Pango markup of ocbar's own tags and whose visible text is the plain line / plain panel,
//! and `--format json` is the snapshot itself.

use arbitrary::{Arbitrary, Unstructured};
use ocbar::render::{RenderConfig, Template};
use ocbar::wire::snapshot::{Counts, ServerView, SessionState, SessionView, Snapshot};

use crate::bars::check_all_formats;

/// Characters that have meant trouble for some bar: markup, escapes, line breaks, bidi.
const HOSTILE: &[char] = &[
    '#', '[', ']', '<', '>', '&', '"', '\'', '\\', '{', '}', '%', '$', '`', ';', '=', ',', ' ',
    '\x1b', '\r', '\n', '\t', '\0', '\x07', '\x7f', '\u{85}', '\u{9b}', '\u{a0}', '\u{2028}',
    '\u{2029}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{200d}', '\u{feff}',
    '\u{3000}', 'é', '漢', '🦀', '\u{301}', '\u{fffd}', '…',
];

/// A string biased towards [`HOSTILE`] characters.
#[derive(Debug, Clone)]
pub struct FuzzStr(pub String);

impl<'a> Arbitrary<'a> for FuzzStr {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(0..=48)?;
        let mut s = String::new();
        for _ in 0..n {
            let b: u8 = u.arbitrary()?;
            let c = match b {
                0..=0x5f => HOSTILE[b as usize % HOSTILE.len()],
                0x60..=0xdf => (b - 0x60 + 0x20) as char,
                _ => char::from_u32(u.arbitrary::<u32>()? % 0x11_0000).unwrap_or('?'),
            };
            s.push(c);
        }
        Ok(FuzzStr(s))
    }
}

#[derive(Debug, Arbitrary)]
struct FuzzServer {
    url: u8,
    connected: bool,
    stale: bool,
}

#[derive(Debug, Arbitrary)]
struct FuzzSession {
    id: FuzzStr,
    server: u8,
    directory: FuzzStr,
    title: FuzzStr,
    state: u8,
    attempt: Option<u32>,
    retry_next_delta: Option<i32>,
    message: Option<FuzzStr>,
    model: Option<FuzzStr>,
    agent: Option<FuzzStr>,
    activity_delta: i32,
    unvisited: bool,
    parent: Option<u8>,
    children_active: u8,
    muted: bool,
    /// A remote machine's session (`--remote HOST`): the host name is data too.
    host: Option<FuzzStr>,
}

#[derive(Debug, Arbitrary)]
struct FuzzRender {
    servers: Vec<FuzzServer>,
    sessions: Vec<FuzzSession>,
    counts: [u8; 7],
    now_ms: i64,
    ascii: bool,
    no_color: bool,
    title_width: u8,
    panel_title_width: u8,
    /// A template made of placeholders only (literal text is the user's own bar markup, not
    /// data, so the escaping rules do not apply to it).
    template: Option<Vec<u8>>,
}

const URLS: [&str; 3] = ["http://127.0.0.1:4096", "http://h:1/p#[x]", "tui://42"];
const STATES: [SessionState; 7] = [
    SessionState::Waiting,
    SessionState::Retry,
    SessionState::Busy,
    SessionState::Error,
    SessionState::Done,
    SessionState::Aborted,
    SessionState::Unknown,
];

fn build(f: FuzzRender) -> (Snapshot, RenderConfig, i64) {
    let now = f.now_ms.clamp(-(1 << 50), 1 << 50);
    let servers = f
        .servers
        .iter()
        .take(4)
        .map(|s| ServerView {
            url: URLS[s.url as usize % URLS.len()].into(),
            connected: s.connected,
            stale: s.stale,
        })
        .collect();
    let ids: Vec<String> = f.sessions.iter().map(|s| s.id.0.clone()).collect();
    let sessions = f
        .sessions
        .into_iter()
        .take(24)
        .map(|s| SessionView {
            id: s.id.0.into(),
            server: URLS[s.server as usize % URLS.len()].into(),
            reachable: true,
            directory: s.directory.0.into(),
            title: s.title.0.into(),
            state: STATES[s.state as usize % STATES.len()],
            attempt: s.attempt,
            retry_next_ms: s.retry_next_delta.map(|d| now + i64::from(d)),
            message: s.message.map(|m| m.0.into()),
            model: s.model.map(|m| m.0.into()),
            agent: s.agent.map(|m| m.0.into()),
            last_activity_ms: now + i64::from(s.activity_delta),
            unvisited: s.unvisited,
            parent_id: s.parent.map(|p| {
                ids.get(p as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("p{p}"))
                    .into()
            }),
            children_active: u32::from(s.children_active),
            muted: s.muted,
            host: s.host.map(|h| h.0.into()),
        })
        .collect();
    let c = f.counts.map(u32::from);
    let counts = Counts {
        busy: c[0],
        retry: c[1],
        waiting: c[2],
        done: c[3],
        error: c[4],
        aborted: c[5],
        unvisited: c[6],
    };
    let mut cfg = RenderConfig {
        ascii: f.ascii,
        no_color: f.no_color,
        title_width: usize::from(f.title_width % 64),
        panel_title_width: usize::from(f.panel_title_width % 80),
        ..RenderConfig::default()
    };
    if let Some(t) = f.template {
        let names = ocbar::render::template::PLACEHOLDERS;
        let text: String = t
            .iter()
            .take(16)
            .map(|&i| format!("{{{}}}", names[i as usize % names.len()].0))
            .collect();
        cfg.template.all = Some(Template::new(text).expect("placeholders only"));
    }
    let snap = Snapshot {
        servers,
        sessions,
        counts,
        ..Snapshot::default()
    };
    (snap, cfg, now)
}

/// The `render` fuzz target.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(f) = FuzzRender::arbitrary(&mut u) else {
        return;
    };
    let (snap, cfg, now) = build(f);
    check_all_formats(&snap, &cfg, now);
}
