//! Finding OpenCode servers without configuration, and the set of servers the daemon follows.
//!
//! OpenCode 1 writes no registry of running servers (no pid or port files), so the daemon looks
//! at processes: every [`Settings::interval`] (5 s) it reads `/proc/*/cmdline` and takes
//!
//! - `opencode serve …` and `opencode web …`: a server;
//! - `opencode [project] --port N | --hostname H | --mdns`: a TUI with its own HTTP listener;
//! - `opencode attach <url>`: a TUI attached to the server at `<url>`.
//!
//! OpenCode 2's background service records itself in `service.json`, with its password
//! ([`read_services`]); that file is read at every scan as well.
//!
//! A listener's port is the `--port` of its command line, or, for `--port 0` or no port, the
//! listening TCP sockets the process owns (`/proc/<pid>/fd` socket inodes looked up in
//! `/proc/<pid>/net/tcp` and `tcp6`). Every candidate is confirmed with `GET /global/health`
//! (or `GET /path` for OpenCode 1.0.x, which has no health route, or `GET /api/info` for
//! OpenCode 2)
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

mod followed;
mod scan;
mod service_file;
#[cfg(test)]
mod tests;

pub use followed::Followed;
pub use scan::{Seen, TuiProcess, parse_cmdline, scan, tuis_of};
pub use service_file::{ServiceRecord, read_services, service_dir};

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
    /// Where OpenCode 2 records its background services (`<state home>/opencode`).
    pub service_dir: Option<PathBuf>,
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
            service_dir: service_dir(crate::paths::state_home()),
        }
    }
}

/// A server the scan found, or a probe that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub url: ServerUrl,
    /// How it was found, for `doctor`: e.g. `opencode serve, pid 123`.
    pub how: String,
    /// The password recorded for it (OpenCode 2's `service.json`), unless
    /// `OPENCODE_SERVER_PASSWORD` is set, which is honoured over it.
    pub credentials: Option<Credentials>,
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

/// Add the OpenCode 2 services recorded in `dir` to what the process scan `found`: a service
/// the scan already found (its `opencode serve --service` process) gets the recorded password.
/// `env`: the credentials of ocbar's environment (`OPENCODE_SERVER_PASSWORD`), honoured over
/// the recorded password.
fn add_services(found: &mut Vec<Found>, dir: &Path, proc_root: &Path, env: Option<Credentials>) {
    for s in read_services(dir, proc_root) {
        let credentials = env.clone().or(s.credentials);
        let how = format!("OpenCode 2 service, {} pid {}", s.file, s.pid);
        match found
            .iter_mut()
            .find(|f| url_key(&f.url) == url_key(&s.url))
        {
            Some(f) => {
                f.how = how;
                f.credentials = credentials;
            }
            None => found.push(Found {
                url: s.url,
                how,
                credentials,
            }),
        }
    }
}

/// Whether an OpenCode server answers at `url` (`/global/health`, OpenCode 2's `/api/info`,
/// or a 401 asking for a password).
async fn confirm(url: &ServerUrl, credentials: Option<Credentials>, timeout: Duration) -> bool {
    let Ok(client) = source::http_client(timeout) else {
        return false;
    };
    let Ok(api) = Api::new(
        url.clone(),
        client,
        credentials.or_else(Credentials::from_env),
        timeout,
    ) else {
        return false;
    };
    match api.identify().await {
        Ok(id) if id.protocol == source::Protocol::V2 => return true,
        Err(e) if e.is_auth() => return true,
        _ => {}
    }
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
        let services = settings.service_dir.clone();
        let named = tokio::task::spawn_blocking(move || {
            let mut found = scan(&root);
            if let Some(dir) = services {
                add_services(&mut found, &dir, &root, Credentials::from_env());
            }
            found
        })
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
                    credentials: None,
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
            let ok = confirm(&f.url, f.credentials.clone(), Duration::from_secs(2)).await;
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
