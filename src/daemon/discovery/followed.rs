//! The set of servers the daemon follows and why (configured, discovered, reported by a TUI):
//! the one place that starts and stops connections for them, and `doctor`'s lines about it.

use super::*;

/// What the daemon follows and why. Owned by the state loop.
#[derive(Default)]
pub struct Followed {
    pub(super) configured: Vec<ServerUrl>,
    pub(super) scanned: Vec<Found>,
    pub(super) tuis: BTreeMap<String, ServerUrl>,
    /// Servers dropped by [`Followed::reconcile`]: late events of their stopped connections
    /// are ignored until they are added again.
    pub(super) removed: HashSet<ServerUrl>,
    pub(super) events: Option<mpsc::Sender<Event>>,
    pub(super) connection: ConnectionConfig,
    /// Whether the scan runs (for `doctor`).
    pub scanning: Option<Arc<ScanStatus>>,
}

impl Followed {
    /// Configured servers (followed from the start, never dropped); `events` is the state
    /// loop's event channel, which servers added later report to.
    pub fn new(
        configured: &[ServerUrl],
        events: mpsc::Sender<Event>,
        connection: ConnectionConfig,
    ) -> Followed {
        Followed {
            configured: configured.to_vec(),
            events: Some(events),
            connection,
            ..Followed::default()
        }
    }

    /// Take in an update (then call [`Followed::reconcile`]).
    pub fn update(&mut self, u: Update) {
        match u {
            Update::Scanned(found) => self.scanned = found,
            Update::Tui {
                tui,
                server: Some(s),
            } => {
                self.tuis.insert(tui, s);
            }
            Update::Tui { tui, server: None } => {
                self.tuis.remove(&tui);
            }
        }
    }

    /// Every server to follow, configured first; the same server under two spellings
    /// (`localhost` / `127.0.0.1`) once.
    pub fn wanted(&self) -> Vec<ServerUrl> {
        let mut keys = HashSet::new();
        let mut out = Vec::new();
        let all = self
            .configured
            .iter()
            .chain(self.scanned.iter().map(|f| &f.url))
            .chain(self.tuis.values());
        for url in all {
            if keys.insert(url_key(url)) {
                out.push(url.clone());
            }
        }
        out
    }

    /// Why `url` is followed: `configured`, `discovered: …` or `attached TUI …`.
    pub fn origin(&self, url: &str) -> String {
        if self.configured.iter().any(|c| **c == *url) {
            return "configured".into();
        }
        let key = url_key(url);
        let mut why = Vec::new();
        for f in &self.scanned {
            if url_key(&f.url) == key {
                why.push(format!("discovered: {}", f.how));
            }
        }
        let tuis: Vec<&str> = self
            .tuis
            .iter()
            .filter(|(_, s)| url_key(s) == key)
            .map(|(t, _)| t.as_str())
            .collect();
        if !tuis.is_empty() {
            why.push(format!("reported by TUI {}", tuis.join(", ")));
        }
        if why.is_empty() {
            "configured".into()
        } else {
            why.join("; ")
        }
    }

    /// Whether an event belongs to a server this bookkeeping dropped (a late event of a
    /// stopped connection): such events must not bring the server back.
    pub fn is_stale(&self, ev: &Event) -> bool {
        match ev {
            Event::ServerAdded { .. } | Event::ServerRemoved { .. } => false,
            _ => ev.server().is_some_and(|s| self.removed.contains(s)),
        }
    }

    /// Start following what is wanted and not followed; stop what is followed and no longer
    /// wanted. Returns the model events to apply at once (`ServerAdded` before any event of the
    /// new connection can arrive; `ServerRemoved` after the connection is stopped).
    pub fn reconcile(&mut self, sources: &mut HashMap<ServerUrl, ServerHandle>) -> Vec<Event> {
        let wanted = self.wanted();
        let mut out = Vec::new();
        let wanted_keys: HashSet<String> = wanted.iter().map(|u| url_key(u)).collect();
        let gone: Vec<ServerUrl> = sources
            .keys()
            .filter(|u| !wanted_keys.contains(&url_key(u)))
            .cloned()
            .collect();
        for url in gone {
            if let Some(h) = sources.remove(&url) {
                h.stop();
            }
            crate::log!("{url}: no longer found, stopped following it");
            self.removed.insert(url.clone());
            out.push(Event::ServerRemoved { server: url });
        }
        let followed_keys: HashSet<String> = sources.keys().map(|u| url_key(u)).collect();
        let Some(events) = &self.events else {
            return out;
        };
        for url in wanted {
            if followed_keys.contains(&url_key(&url)) {
                continue;
            }
            crate::log!("{url}: following it ({})", self.origin(&url));
            self.removed.remove(&url);
            out.push(Event::ServerAdded {
                server: url.clone(),
            });
            let stats = Arc::new(ServerStats::new(url.to_string()));
            let mut connection = self.connection.clone();
            // A password recorded for it (OpenCode 2's service file), unless the environment
            // gives one.
            if connection.credentials.is_none() {
                connection.credentials = self
                    .scanned
                    .iter()
                    .find(|f| url_key(&f.url) == url_key(&url))
                    .and_then(|f| f.credentials.clone());
            }
            let handle = source::spawn_server(url.clone(), events.clone(), stats, connection);
            sources.insert(url, handle);
        }
        out
    }

    /// `doctor` lines about discovery. `tuis` is how many TUIs talk to the daemon (a bridged
    /// plain TUI is a server no scan finds); `plugin_installed` whether OpenCode's config lists
    /// the plugin (then installing it is no hint).
    pub fn doctor(&self, now_ms: i64, tuis: usize, plugin_installed: bool) -> String {
        let mut out = String::new();
        match &self.scanning {
            None => {
                let _ = write!(
                    out,
                    "discovery: off (enable it with [discovery] enabled = true, or OCBAR_DISCOVERY=1)"
                );
            }
            Some(st) => {
                let g = match st.inner.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                let _ = write!(
                    out,
                    "discovery: on, every {}s; {} scans, last {}; {} found",
                    g.interval_s,
                    g.scans,
                    if g.last_ms > 0 {
                        format!("{:.1}s ago", (now_ms - g.last_ms) as f64 / 1000.0)
                    } else {
                        "never".into()
                    },
                    self.scanned.len()
                );
                if self.wanted().is_empty() && tuis == 0 && g.scans > 0 {
                    let _ = write!(
                        out,
                        "\n  no OpenCode server found: start one ('opencode serve', 'opencode --port 4096'){}",
                        if plugin_installed {
                            ", or start 'opencode': the plugin is installed, and a plain TUI reports itself through it"
                        } else {
                            ", or install the plugin ('ocbar install opencode-plugin') so that plain 'opencode' TUIs report themselves"
                        }
                    );
                }
                for (url, how) in &g.unconfirmed {
                    let _ = write!(
                        out,
                        "\n  candidate {url} ({how}): /global/health did not answer"
                    );
                }
            }
        }
        out
    }
}

// ------------------------------------------------------------------------------------------------
// the scan
