//! Finding OpenCode servers without configuration, and the set of servers the daemon follows.
//!
//! OpenCode writes no registry of running servers (no pid or port files), so the daemon looks
//! at processes: every [`Settings::interval`] (5 s) it reads `/proc/*/cmdline` and takes
//!
//! - `opencode serve …` and `opencode web …`: a server;
//! - `opencode [project] --port N | --hostname H | --mdns`: a TUI with its own HTTP listener;
//! - `opencode attach <url>`: a TUI attached to the server at `<url>`.
//!
//! A listener's port is the `--port` of its command line, or, for `--port 0` or no port, the
//! listening TCP sockets the process owns (`/proc/<pid>/fd` socket inodes looked up in
//! `/proc/<pid>/net/tcp` and `tcp6`). Every candidate is confirmed with `GET /global/health`
//! (or `GET /path` for OpenCode 1.0.x, which has no health route)
//! before it is followed (a 401 confirms too: it is an OpenCode server that wants a password),
//! and it is dropped as soon as no process names it any more. A plain `opencode` TUI has no
//! port and is never found here: its plugin bridges it (see [`crate::daemon::tui`]).
//!
//! [`Followed`] is the state loop's bookkeeping of what it follows and why: configured servers
//! (never dropped), servers found by the scan, and servers TUIs said they are attached to.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::daemon::config::DiscoveryConfig;
use tokio::sync::mpsc;

use crate::daemon::source::{
    self, Api, ApiError, ConnectionConfig, Credentials, ServerHandle, ServerStats,
};
use crate::model::event::Event;
use crate::server_url::{ServerUrl, url_key};

/// Discovery settings after the environment override.
#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    pub interval: Duration,
    /// The `/proc` to scan (tests point it elsewhere).
    pub proc_root: PathBuf,
    /// URLs probed on every scan besides the processes found (the default server when no
    /// server is configured).
    pub probes: Vec<ServerUrl>,
}

impl Settings {
    /// The config table, with `OCBAR_DISCOVERY` (`0`/`off`/`false`/`no` or `1`/`on`/`true`/`yes`)
    /// overriding `enabled`.
    pub fn new(config: &DiscoveryConfig, env: Option<&str>) -> Settings {
        let enabled = match env.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("0" | "off" | "false" | "no") => false,
            Some("1" | "on" | "true" | "yes") => true,
            _ => config.enabled,
        };
        Settings {
            enabled,
            interval: Duration::from_secs(config.interval_seconds.clamp(1, 3600)),
            proc_root: PathBuf::from("/proc"),
            probes: Vec::new(),
        }
    }
}

/// A server the scan found, or a probe that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub url: ServerUrl,
    /// How it was found, for `doctor`: e.g. `opencode serve, pid 123`.
    pub how: String,
}

/// A change to the set of servers the daemon should follow, sent to the state loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Everything the last scan found and confirmed (it replaces the previous scan's set).
    Scanned(Vec<Found>),
    /// A TUI said it is attached to `server` (`None`: that TUI went away).
    Tui {
        tui: String,
        server: Option<ServerUrl>,
    },
}

/// What the daemon follows and why. Owned by the state loop.
#[derive(Default)]
pub struct Followed {
    configured: Vec<ServerUrl>,
    scanned: Vec<Found>,
    tuis: BTreeMap<String, ServerUrl>,
    /// Servers dropped by [`Followed::reconcile`]: late events of their stopped connections
    /// are ignored until they are added again.
    removed: HashSet<ServerUrl>,
    events: Option<mpsc::Sender<Event>>,
    connection: ConnectionConfig,
    /// Whether the scan runs (for `doctor`).
    pub scanning: Option<Arc<ScanStatus>>,
}

/// How the scan is doing, for `doctor`.
#[derive(Debug, Default)]
pub struct ScanStatus {
    inner: Mutex<ScanInner>,
}

#[derive(Debug, Default)]
struct ScanInner {
    scans: u64,
    last_ms: i64,
    candidates: Vec<(String, String)>,
    unconfirmed: Vec<(String, String)>,
    interval_s: u64,
}

impl ScanStatus {
    fn record(
        &self,
        now_ms: i64,
        candidates: Vec<(String, String)>,
        unconfirmed: Vec<(String, String)>,
    ) {
        if let Ok(mut g) = self.inner.lock() {
            g.scans += 1;
            g.last_ms = now_ms;
            g.candidates = candidates;
            g.unconfirmed = unconfirmed;
        }
    }
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
            let handle =
                source::spawn_server(url.clone(), events.clone(), stats, self.connection.clone());
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

/// What a process's command line says about an OpenCode server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A process listening on HTTP: `port` from `--port N` (None: look at its sockets).
    Listener {
        what: &'static str,
        host: Option<String>,
        port: Option<u16>,
    },
    /// `opencode attach <url>`.
    Attach { url: String },
}

/// Flags of `opencode` that take a value (so the value is not a positional argument).
const VALUE_FLAGS: &[&str] = &[
    "--port",
    "--hostname",
    "--mdns-domain",
    "--cors",
    "--dir",
    "-s",
    "--session",
    "-p",
    "--password",
    "-u",
    "--username",
    "-m",
    "--model",
    "--agent",
    "--prompt",
    "--log-level",
];

/// Subcommands that never run an HTTP server (besides the TUI forms handled here).
const OTHER_COMMANDS: &[&str] = &[
    "run",
    "acp",
    "mcp",
    "auth",
    "models",
    "stats",
    "export",
    "import",
    "github",
    "pr",
    "upgrade",
    "uninstall",
    "agent",
    "debug",
    "session",
    "plugin",
    "db",
    "completion",
    "generate",
];

fn base_name(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Read an OpenCode command line (argv). `None` when it is not OpenCode or runs no server.
pub fn parse_cmdline(argv: &[&str]) -> Option<Seen> {
    let args: &[&str] = match argv {
        [first, rest @ ..] if base_name(first) == "opencode" => rest,
        [first, second, rest @ ..]
            if matches!(base_name(first), "node" | "nodejs" | "bun")
                && matches!(base_name(second), "opencode" | "opencode.js") =>
        {
            rest
        }
        _ => return None,
    };
    let mut port: Option<u16> = None;
    let mut host: Option<String> = None;
    let mut listen_flag = false;
    let mut positional: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        i += 1;
        if let Some((flag, value)) = a.split_once('=').filter(|(f, _)| f.starts_with('-')) {
            match flag {
                "--port" => {
                    listen_flag = true;
                    port = value.parse().ok();
                }
                "--hostname" => {
                    listen_flag = true;
                    host = Some(value.to_string());
                }
                "--mdns" => listen_flag |= value != "false",
                _ => {}
            }
            continue;
        }
        if a == "--mdns" {
            listen_flag = true;
            continue;
        }
        if VALUE_FLAGS.contains(&a) {
            let value = args.get(i).copied().unwrap_or("");
            i += 1;
            match a {
                "--port" => {
                    listen_flag = true;
                    port = value.parse().ok();
                }
                "--hostname" => {
                    listen_flag = true;
                    host = Some(value.to_string());
                }
                _ => {}
            }
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        positional.push(a);
    }
    let port = port.filter(|p| *p != 0);
    match positional.first().copied() {
        Some("serve") => Some(Seen::Listener {
            what: "opencode serve",
            host,
            port,
        }),
        Some("web") => Some(Seen::Listener {
            what: "opencode web",
            host,
            port,
        }),
        Some("attach") => positional
            .iter()
            .skip(1)
            .find(|p| p.starts_with("http://") || p.starts_with("https://"))
            .map(|u| Seen::Attach {
                url: u.trim_end_matches('/').to_string(),
            }),
        Some(cmd) if OTHER_COMMANDS.contains(&cmd) => None,
        // The TUI (`opencode [project]`) listens only with these flags.
        _ if listen_flag => Some(Seen::Listener {
            what: "opencode TUI --port",
            host,
            port,
        }),
        _ => None,
    }
}

/// A host to connect to for a listening address: any-address → loopback.
fn connect_host(host: Option<&str>) -> String {
    match host.map(str::trim) {
        None | Some("" | "0.0.0.0" | "localhost") => "127.0.0.1".into(),
        Some("::" | "[::]" | "::1" | "[::1]") => "[::1]".into(),
        Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        Some(h) => h.to_string(),
    }
}

/// Listening TCP sockets of a `/proc/net/tcp{,6}` table: inode → (address, port).
fn listening(table: &str, v6: bool) -> HashMap<u64, (String, u16)> {
    let mut out = HashMap::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[3] != "0A" {
            continue;
        }
        let Some((addr, port)) = f[1].split_once(':') else {
            continue;
        };
        let (Ok(port), Ok(inode)) = (u16::from_str_radix(port, 16), f[9].parse::<u64>()) else {
            continue;
        };
        let host = if v6 {
            if addr.chars().all(|c| c == '0') {
                "::".to_string()
            } else if addr == "00000000000000000000000001000000" {
                "::1".to_string()
            } else if let Some(v4) = addr.strip_prefix("0000000000000000FFFF0000") {
                match u32::from_str_radix(v4, 16) {
                    Ok(v) => std::net::Ipv4Addr::from(v.swap_bytes()).to_string(),
                    Err(_) => continue,
                }
            } else {
                continue; // other IPv6 addresses: not worth guessing
            }
        } else {
            match u32::from_str_radix(addr, 16) {
                Ok(v) => std::net::Ipv4Addr::from(v.swap_bytes()).to_string(),
                Err(_) => continue,
            }
        };
        out.insert(inode, (host, port));
    }
    out
}

/// The TCP ports process `pid` listens on, with their addresses (empty when its fds cannot be
/// read, e.g. another user's process).
fn listening_ports(proc_root: &Path, pid: u32) -> Vec<(String, u16)> {
    let dir = proc_root.join(pid.to_string());
    let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
        return Vec::new();
    };
    let mut inodes = HashSet::new();
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path())
            && let Some(n) = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
        {
            inodes.insert(n);
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let Ok(table) = std::fs::read_to_string(dir.join("net").join(file)) else {
            continue;
        };
        for (inode, addr) in listening(&table, v6) {
            if inodes.contains(&inode) && !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out.sort();
    out
}

/// Every OpenCode server URL the processes under `proc_root` name, with how it was found.
/// Blocking (reads `/proc`).
pub fn scan(proc_root: &Path) -> Vec<Found> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|p| *p != me)
        .collect();
    pids.sort_unstable();
    let mut out: Vec<Found> = Vec::new();
    let mut push = |url: String, how: String| {
        let Ok(url) = ServerUrl::discovered(&url) else {
            return;
        };
        if !out.iter().any(|f| f.url.key() == url.key()) {
            out.push(Found { url, how });
        }
    };
    for pid in pids {
        let Ok(raw) = std::fs::read(proc_root.join(pid.to_string()).join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&raw);
        let argv: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
        match parse_cmdline(&argv) {
            Some(Seen::Attach { url }) => push(url, format!("opencode attach, pid {pid}")),
            Some(Seen::Listener { what, host, port }) => match port {
                Some(p) => push(
                    format!("http://{}:{p}", connect_host(host.as_deref())),
                    format!("{what}, pid {pid}"),
                ),
                None => {
                    for (addr, p) in listening_ports(proc_root, pid) {
                        push(
                            format!("http://{}:{p}", connect_host(Some(&addr))),
                            format!("{what}, pid {pid}"),
                        );
                    }
                }
            },
            None => {}
        }
    }
    out
}

/// Whether an OpenCode server answers at `url` (`/global/health`, or a 401 asking for a
/// password).
async fn confirm(url: &ServerUrl, timeout: Duration) -> bool {
    let Ok(client) = source::http_client(timeout) else {
        return false;
    };
    let Ok(api) = Api::new(url.clone(), client, Credentials::from_env(), timeout) else {
        return false;
    };
    match api.health().await {
        Ok(h) => h.healthy || !h.version.is_empty(),
        Err(e) if e.is_auth() => true,
        // OpenCode 1.0.x has no /global/health (it answers 500): ask for /path.
        Err(ApiError::Status { .. }) => api.answers_path().await.unwrap_or(false),
        Err(_) => false,
    }
}

/// How a server found only by a probe is named in `doctor`.
const PROBED: &str = "probed, no process names it";

/// Scan forever: every `settings.interval`, send the confirmed set when it changed.
/// Returns when the state loop is gone.
pub async fn run(settings: Settings, updates: mpsc::Sender<Update>, status: Arc<ScanStatus>) {
    if let Ok(mut g) = status.inner.lock() {
        g.interval_s = settings.interval.as_secs();
    }
    let mut confirmed: BTreeMap<String, Found> = BTreeMap::new();
    let mut last_sent: Option<Vec<Found>> = None;
    let mut announced: HashSet<String> = HashSet::new();
    loop {
        let root = settings.proc_root.clone();
        let named = tokio::task::spawn_blocking(move || scan(&root))
            .await
            .unwrap_or_default();
        // A confirmation holds only while the same process names the URL: a URL that only a
        // probe names (no process, e.g. the default one after its server exited) is asked again
        // on every scan and dropped when nothing answers, and a new process on a known URL is
        // confirmed, and named in `doctor`, anew.
        confirmed.retain(|k, f| {
            named
                .iter()
                .any(|n| url_key(&n.url) == *k && n.how == f.how)
        });
        let mut found = named;
        for p in &settings.probes {
            if !found.iter().any(|f| url_key(&f.url) == url_key(p)) {
                found.push(Found {
                    url: p.clone(),
                    how: PROBED.into(),
                });
            }
        }
        let keys: HashSet<String> = found.iter().map(|f| url_key(&f.url)).collect();
        let new: Vec<Found> = found
            .iter()
            .filter(|f| !confirmed.contains_key(&url_key(&f.url)))
            .cloned()
            .collect();
        let checks = new.into_iter().map(|f| async move {
            let ok = confirm(&f.url, Duration::from_secs(2)).await;
            (f, ok)
        });
        let mut unconfirmed = Vec::new();
        for (f, ok) in futures_util::future::join_all(checks).await {
            if ok {
                confirmed.insert(url_key(&f.url), f);
            } else if !settings.probes.contains(&f.url) {
                // (the default URL is only probed: nothing there is the usual case)
                unconfirmed.push((f.url.to_string(), f.how.clone()));
            }
        }
        // Keep the scan's order (by pid) for stable output.
        let set: Vec<Found> = found
            .iter()
            .filter_map(|f| confirmed.get(&url_key(&f.url)).cloned())
            .collect();
        for f in &set {
            if announced.insert(url_key(&f.url)) {
                crate::log!("discovered {} ({})", f.url, f.how);
            }
        }
        announced.retain(|k| keys.contains(k));
        status.record(
            crate::daemon::clock::now_ms(),
            found
                .iter()
                .map(|f| (f.url.to_string(), f.how.clone()))
                .collect(),
            unconfirmed,
        );
        if last_sent.as_ref() != Some(&set) {
            if updates.send(Update::Scanned(set.clone())).await.is_err() {
                return;
            }
            last_sent = Some(set);
        }
        tokio::time::sleep(settings.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(cmd: &str) -> Option<Seen> {
        let argv: Vec<&str> = cmd.split(' ').collect();
        parse_cmdline(&argv)
    }

    #[test]
    fn command_lines_are_read() {
        assert_eq!(
            seen("/x/bin/opencode serve --port 4096 --hostname 127.0.0.1"),
            Some(Seen::Listener {
                what: "opencode serve",
                host: Some("127.0.0.1".into()),
                port: Some(4096)
            })
        );
        assert_eq!(
            seen("opencode serve --port=0"),
            Some(Seen::Listener {
                what: "opencode serve",
                host: None,
                port: None
            })
        );
        assert_eq!(
            seen("opencode web"),
            Some(Seen::Listener {
                what: "opencode web",
                host: None,
                port: None
            })
        );
        assert_eq!(
            seen("opencode /home/me/proj --port 4198"),
            Some(Seen::Listener {
                what: "opencode TUI --port",
                host: None,
                port: Some(4198)
            })
        );
        assert_eq!(
            seen("opencode --mdns"),
            Some(Seen::Listener {
                what: "opencode TUI --port",
                host: None,
                port: None
            })
        );
        assert_eq!(
            seen("opencode attach http://127.0.0.1:4096/ --dir /p"),
            Some(Seen::Attach {
                url: "http://127.0.0.1:4096".into()
            })
        );
        assert_eq!(
            seen("opencode attach -s ses_1 http://h:1"),
            Some(Seen::Attach {
                url: "http://h:1".into()
            })
        );
        assert_eq!(
            seen("node /usr/lib/node_modules/opencode-ai/bin/opencode serve --port 5"),
            Some(Seen::Listener {
                what: "opencode serve",
                host: None,
                port: Some(5)
            })
        );
        for none in [
            "opencode",
            "opencode /home/me/proj",
            "opencode run --port 5 hello",
            "opencode attach",
            "bash -c opencode serve --port 5",
            "vim opencode",
            "opencode-other serve",
            "",
        ] {
            assert_eq!(seen(none), None, "{none}");
        }
    }

    #[test]
    fn socket_tables_are_read() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
            0: 0100007F:8A0F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 48788 1 0 100 0 0 10 0\n   \
            1: 00000000:1000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0\n   \
            2: 0100007F:9999 0100007F:1000 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0 100 0 0 10 0\n";
        let m = listening(tcp, false);
        assert_eq!(m.get(&48788), Some(&("127.0.0.1".to_string(), 35343)));
        assert_eq!(m.get(&5), Some(&("0.0.0.0".to_string(), 4096)));
        assert!(!m.contains_key(&6), "not listening");
        let tcp6 = "header\n 0: 00000000000000000000000000000000:1000 00000000000000000000000000000000:0000 0A 0 0 0 0 0 7 1\n 1: 0000000000000000FFFF00000100007F:1001 0:0 0A 0 0 0 0 0 8 1\n";
        let m = listening(tcp6, true);
        assert_eq!(m.get(&7), Some(&("::".to_string(), 4096)));
        assert_eq!(m.get(&8), Some(&("127.0.0.1".to_string(), 4097)));
        assert_eq!(connect_host(Some("0.0.0.0")), "127.0.0.1");
        assert_eq!(connect_host(Some("::")), "[::1]");
        assert_eq!(connect_host(Some("10.0.0.2")), "10.0.0.2");
        assert_eq!(connect_host(Some("fe80::1")), "[fe80::1]");
    }

    #[test]
    fn a_fake_proc_is_scanned() {
        let root = tempfile::tempdir().unwrap();
        let mk = |pid: u32, argv: &[&str]| {
            let d = root.path().join(pid.to_string());
            std::fs::create_dir_all(d.join("fd")).unwrap();
            std::fs::create_dir_all(d.join("net")).unwrap();
            std::fs::write(d.join("cmdline"), argv.join("\0") + "\0").unwrap();
            d
        };
        mk(10, &["/bin/opencode", "serve", "--port", "4101"]);
        mk(11, &["opencode", "attach", "http://localhost:4101/"]);
        mk(12, &["opencode", "attach", "http://u:pw@h:9"]);
        let d = mk(13, &["opencode", "serve"]);
        std::os::unix::fs::symlink("socket:[777]", d.join("fd/5")).unwrap();
        std::fs::write(
            d.join("net/tcp"),
            "h\n 0: 0100007F:1F40 00000000:0000 0A 0 0 0 0 0 777 1\n 1: 0100007F:1F41 00000000:0000 0A 0 0 0 0 0 778 1\n",
        )
        .unwrap();
        mk(14, &["sleep", "100"]);
        std::fs::create_dir_all(root.path().join("self")).unwrap();
        let found = scan(root.path());
        let urls: Vec<&str> = found.iter().map(|f| &*f.url).collect();
        assert_eq!(urls, ["http://127.0.0.1:4101", "http://127.0.0.1:8000"]);
        assert_eq!(found[0].how, "opencode serve, pid 10");
        assert_eq!(found[1].how, "opencode serve, pid 13");
    }

    #[test]
    fn the_followed_set_merges_origins() {
        let mut f = Followed {
            configured: vec![ServerUrl::from("http://localhost:4096")],
            ..Followed::default()
        };
        f.update(Update::Scanned(vec![
            Found {
                url: ServerUrl::from("http://127.0.0.1:4096"),
                how: "opencode serve, pid 1".into(),
            },
            Found {
                url: ServerUrl::from("http://127.0.0.1:5000"),
                how: "opencode web, pid 2".into(),
            },
        ]));
        f.update(Update::Tui {
            tui: "77".into(),
            server: Some(ServerUrl::from("http://127.0.0.1:6000")),
        });
        let w: Vec<String> = f.wanted().iter().map(|u| u.to_string()).collect();
        assert_eq!(
            w,
            [
                "http://localhost:4096",
                "http://127.0.0.1:5000",
                "http://127.0.0.1:6000"
            ]
        );
        assert_eq!(f.origin("http://localhost:4096"), "configured");
        assert_eq!(
            f.origin("http://127.0.0.1:5000"),
            "discovered: opencode web, pid 2"
        );
        assert_eq!(f.origin("http://127.0.0.1:6000"), "reported by TUI 77");
        f.update(Update::Tui {
            tui: "77".into(),
            server: None,
        });
        assert_eq!(f.wanted().len(), 2);
        assert!(!Settings::new(&DiscoveryConfig::default(), Some("off")).enabled);
        assert!(
            Settings::new(
                &DiscoveryConfig {
                    enabled: false,
                    interval_seconds: 0,
                    probe: None,
                },
                Some("1")
            )
            .interval
                == Duration::from_secs(1)
        );
    }

    #[test]
    fn the_no_server_hint_follows_tuis_and_the_plugin() {
        let status = Arc::new(ScanStatus::default());
        status.record(1, Vec::new(), Vec::new());
        let f = Followed {
            scanning: Some(status),
            ..Followed::default()
        };
        let missing = f.doctor(2, 0, false);
        assert!(missing.contains("no OpenCode server found"), "{missing}");
        assert!(
            missing.contains("ocbar install opencode-plugin"),
            "{missing}"
        );
        let installed = f.doctor(2, 0, true);
        assert!(!installed.contains("ocbar install"), "{installed}");
        assert!(installed.contains("the plugin is installed"), "{installed}");
        // A bridged TUI is a server no scan finds: nothing is missing.
        assert!(!f.doctor(2, 1, false).contains("no OpenCode server found"));
    }

    #[tokio::test]
    async fn reconcile_starts_and_stops_connections() {
        let (tx, _rx) = mpsc::channel(64);
        let mut f = Followed::new(
            &[ServerUrl::from("http://127.0.0.1:9")],
            tx,
            ConnectionConfig::default(),
        );
        let mut sources = HashMap::new();
        let added = f.reconcile(&mut sources);
        assert_eq!(added.len(), 1);
        assert_eq!(sources.len(), 1);
        f.update(Update::Scanned(vec![Found {
            url: ServerUrl::from("http://127.0.0.1:10"),
            how: "t".into(),
        }]));
        let ev = f.reconcile(&mut sources);
        assert_eq!(
            ev,
            vec![Event::ServerAdded {
                server: ServerUrl::from("http://127.0.0.1:10")
            }]
        );
        f.update(Update::Scanned(vec![]));
        let ev = f.reconcile(&mut sources);
        assert_eq!(
            ev,
            vec![Event::ServerRemoved {
                server: ServerUrl::from("http://127.0.0.1:10")
            }]
        );
        assert!(f.is_stale(&Event::Alive {
            server: ServerUrl::from("http://127.0.0.1:10")
        }));
        assert!(!f.is_stale(&Event::Alive {
            server: ServerUrl::from("http://127.0.0.1:9")
        }));
        assert_eq!(sources.len(), 1, "configured servers stay");
    }
}
