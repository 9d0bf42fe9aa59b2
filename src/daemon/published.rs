//! The snapshot the state loop publishes, with its rendered lines cached.
//!
//! The socket server answers queries from it and the tmux push renders from it; neither waits on
//! the model. A line is rendered at most once per format and generation (once a second while a
//! retry countdown is shown).

use std::sync::{Arc, Mutex};

use crate::render::{self, RenderConfig};
use crate::wire::snapshot::{SessionState, Snapshot};
use crate::wire::{Format, Reply, Style};

/// One cached render: the line, and the same as the protocol's reply line.
struct Rendered {
    format: Style,
    /// The second it was rendered in (0 without a countdown).
    second: i64,
    line: Arc<str>,
    /// `{"ok":"<line>"}` and a newline: what a query or a `watch` subscriber is sent.
    reply: Arc<str>,
}

/// A snapshot as published by the state loop, with its rendered lines cached.
pub struct Published {
    /// The model generation this snapshot was taken at.
    pub generation: u64,
    pub snapshot: Snapshot,
    /// Renders with a retry countdown depend on the clock, so they are reused only within the
    /// same second.
    cache: Mutex<Vec<Rendered>>,
    /// A countdown is shown: renders go stale every second.
    has_countdown: bool,
    /// The tmux notification shown before the tmux segment while it lasts (pushed `@ocbar`
    /// and polled `ocbar status --format tmux` alike): its text and the state whose colour it
    /// takes. The state loop publishes again when it starts and when it expires.
    pub notice: Option<(Arc<str>, SessionState)>,
}

impl Published {
    /// A retry countdown is shown, so lines go stale every second (a `watch` re-renders).
    pub fn has_countdown(&self) -> bool {
        self.has_countdown
    }

    /// Wrap a fresh snapshot.
    pub fn new(generation: u64, snapshot: Snapshot) -> Self {
        let has_countdown = render::time_sensitive(&snapshot);
        Published {
            generation,
            snapshot,
            cache: Mutex::new(Vec::new()),
            has_countdown,
            notice: None,
        }
    }

    /// The same, with a tmux notice shown before the tmux segment.
    pub fn with_notice(mut self, notice: Option<(Arc<str>, SessionState)>) -> Self {
        self.notice = notice;
        self
    }

    fn render_uncached(&self, format: Format, now_ms: i64, cfg: &RenderConfig) -> String {
        match (&self.notice, format) {
            (Some((text, state)), Format::Tmux) => {
                render::tmux::render_with_notice(&self.snapshot, now_ms, cfg, Some((text, *state)))
            }
            _ => render::render(format, &self.snapshot, now_ms, cfg),
        }
    }

    /// This snapshot in `format`, rendered at most once per format (per second while a retry
    /// countdown is shown).
    pub fn render(&self, format: impl Into<Style>, now_ms: i64, cfg: &RenderConfig) -> Arc<str> {
        self.rendered(format.into(), now_ms, cfg).0
    }

    /// The same line as the protocol's reply line (`{"ok":…}` and a newline), serialised once
    /// with the render: 100 `watch` subscribers and every query share it.
    pub fn reply(&self, format: impl Into<Style>, now_ms: i64, cfg: &RenderConfig) -> Arc<str> {
        self.rendered(format.into(), now_ms, cfg).1
    }

    fn rendered(&self, format: Style, now_ms: i64, cfg: &RenderConfig) -> (Arc<str>, Arc<str>) {
        let second = if self.has_countdown { now_ms / 1000 } else { 0 };
        if let Ok(cache) = self.cache.lock()
            && let Some(r) = cache
                .iter()
                .find(|r| r.format == format && r.second == second)
        {
            return (r.line.clone(), r.reply.clone());
        }
        let line: Arc<str> = if format.no_color && !cfg.no_color {
            let mut plain = cfg.clone();
            plain.no_color = true;
            Arc::from(self.render_uncached(format.format, now_ms, &plain))
        } else {
            Arc::from(self.render_uncached(format.format, now_ms, cfg))
        };
        let reply: Arc<str> = Arc::from(Reply::Ok(line.to_string()).to_line());
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|r| r.format != format);
            cache.push(Rendered {
                format,
                second,
                line: line.clone(),
                reply: reply.clone(),
            });
        }
        (line, reply)
    }
}
