//! `ocbar doctor`'s text: what is connected, what is not, why, and how to fix it.

use super::*;

impl StateLoop {
    pub(super) fn doctor(&self) -> String {
        let mut out = String::new();
        let now = now_ms();
        let snap = self.state.snapshot();
        let _ = writeln!(
            out,
            "ocbar {} daemon, pid {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        let _ = writeln!(out, "socket: {}", self.ctx.socket.display());
        let _ = writeln!(
            out,
            "config: {}",
            self.ctx
                .config_path
                .as_ref()
                .map_or("(none: defaults)".to_string(), |p| p.display().to_string())
        );
        let _ = writeln!(out, "up: {}s", (now - self.ctx.started_ms) / 1000);
        let _ = writeln!(
            out,
            "sessions: {} relevant, {} known; busy {} retry {} waiting {} done {} error {} aborted {} unvisited {}",
            snap.sessions.len(),
            self.state.session_count(),
            snap.counts.busy,
            snap.counts.retry,
            snap.counts.waiting,
            snap.counts.done,
            snap.counts.error,
            snap.counts.aborted,
            snap.counts.unvisited
        );
        for server in &snap.servers {
            let state = match (server.connected, server.stale) {
                (true, false) => "connected",
                (true, true) => "connected, resyncing",
                (false, _) => "NOT CONNECTED",
            };
            let origin = match server.url.kind() {
                ServerKind::Tui => "a plain TUI, bridged by its plugin".to_string(),
                ServerKind::Replay => "replayed".to_string(),
                ServerKind::Http | ServerKind::Https => self.followed.origin(&server.url),
            };
            let _ = writeln!(out, "server {}: {state} ({origin})", server.url);
            if let Some(h) = self.sources.get(&server.url) {
                doctor_server(&mut out, &server.url, &h.stats().view(), now);
            }
        }
        self.doctor_remotes(&mut out, now);
        // Hints follow what is there: is the plugin installed, are TUIs connected?
        use crate::opencode_config::{PluginState, plugin_state};
        let plugin = paths::opencode_config_dir().map_or_else(
            || {
                PluginState::Unreadable(
                    "neither XDG_CONFIG_HOME nor HOME is set: cannot find OpenCode's config directory"
                        .into(),
                )
            },
            |d| plugin_state(&d),
        );
        let none_hint = match &plugin {
            PluginState::Installed(config) => format!(
                "the plugin is installed, {} lists it: restart OpenCode TUIs started before it was, and run them with this daemon's socket ({}: same XDG_RUNTIME_DIR, or OCBAR_SOCKET)",
                config.display(),
                self.ctx.socket.display()
            ),
            PluginState::InstalledV2(file) => format!(
                "the OpenCode 2 plugin is installed ({}): restart OpenCode TUIs started before it was, and run them with this daemon's socket ({}: same XDG_RUNTIME_DIR, or OCBAR_SOCKET)",
                file.display(),
                self.ctx.socket.display()
            ),
            PluginState::FileMissing(config) => format!(
                "{} lists the plugin but its file plugins/ocbar.tsx (or plugins/ocbar/core.tsx) is missing: run 'ocbar install opencode-plugin'",
                config.display()
            ),
            PluginState::V1InCliJson(config) => format!(
                "{} lists the OpenCode 1 plugin, which OpenCode 2 refuses to load: run 'ocbar install opencode-plugin --v2'",
                config.display()
            ),
            PluginState::NotInstalled => {
                "install the plugin: 'ocbar install opencode-plugin', then restart your OpenCode TUIs"
                    .to_string()
            }
            PluginState::Unreadable(e) => format!("cannot tell whether the plugin is installed: {e}"),
        };
        let installed = matches!(
            plugin,
            PluginState::Installed(_) | PluginState::InstalledV2(_)
        );
        let _ = writeln!(
            out,
            "{}",
            self.followed.doctor(now, self.hub.len(), installed)
        );
        let _ = writeln!(out, "{}", self.hub.doctor(now, &none_hint));
        let notify = &self.notify_config;
        let _ = writeln!(
            out,
            "{}",
            notify::opencode::Attention::read()
                .describe(notify.enabled && notify.desktop, notify.beside_opencode)
        );
        out.trim_end().to_string()
    }
}

/// The `opencode …` line of one server: its version and whether ocbar supports it. True when
/// the version is too old (then the "start OpenCode" advice does not apply).
fn doctor_version(out: &mut String, v: &source::ServerStatsView) -> bool {
    use source::version::{OLDEST_SUPPORTED, Support, support, too_old_message};
    // Before the first resync nothing is known; say nothing rather than "not reported".
    if v.version.is_none() && v.resyncs == 0 {
        return false;
    }
    let line = match (support(v.version.as_deref()), &v.version) {
        (Support::Supported, Some(ver)) => format!("opencode {ver} (supported){}", api_of(v)),
        (Support::TooOld, Some(ver)) => {
            format!("opencode {ver}: NOT SUPPORTED: {}", too_old_message(ver))
        }
        (Support::Unreadable, Some(ver)) => format!(
            "opencode {ver}: a version ocbar cannot read; followed as if supported (oldest supported: {OLDEST_SUPPORTED}){}",
            api_of(v)
        ),
        _ => format!(
            "opencode version not reported (/global/health has none: OpenCode 1.0.x); followed as if supported (oldest supported: {OLDEST_SUPPORTED}){}",
            api_of(v)
        ),
    };
    let _ = writeln!(out, "  {line}");
    support(v.version.as_deref()) == Support::TooOld
}

/// `, followed over the OpenCode N API (path)`, once the server's API is known.
fn api_of(v: &source::ServerStatsView) -> String {
    match v.protocol.as_deref() {
        Some(p @ "OpenCode 2") => format!(", followed over the {p} API (/api/event)"),
        Some(p) => format!(", followed over the {p} API (/global/event)"),
        None => String::new(),
    }
}

/// The `doctor` lines of one server: what works, what does not, and how to fix it.
fn doctor_server(out: &mut String, url: &str, v: &source::ServerStatsView, now: i64) {
    let age = |ms: i64| {
        if ms <= 0 {
            "never".to_string()
        } else {
            format!("{:.1}s ago", (now - ms) as f64 / 1000.0)
        }
    };
    let too_old = doctor_version(out, v);
    let _ = writeln!(
        out,
        "  last event: {}; frames {}, events {}, noise dropped {}",
        age(v.last_frame_ms),
        v.frames,
        v.events,
        v.noise
    );
    let _ = writeln!(
        out,
        "  connects {}, reconnects {}, failed attempts {}; resyncs {} (last {}), failed {}; directories {}",
        v.connects,
        v.reconnects,
        v.connect_failures,
        v.resyncs,
        age(v.last_resync_ms),
        v.resync_failures,
        v.known_directories
    );
    let _ = writeln!(
        out,
        "  decode errors: {}{}",
        v.decode_errors,
        v.last_decode_error
            .as_ref()
            .map(|e| format!(" (last: {e})"))
            .unwrap_or_default()
    );
    if v.unknown_events > 0 {
        let _ = writeln!(
            out,
            "  events of unknown types: {} ({}): ignored; a newer OpenCode than this ocbar knows?",
            v.unknown_events,
            v.unknown_types.join(", ")
        );
    }
    let v2 = v.protocol.as_deref() == Some("OpenCode 2");
    if v.auth_failures > 0 && v2 {
        let _ = writeln!(
            out,
            "  auth failures: {}: OpenCode 2's background service keeps its password in $XDG_STATE_HOME/opencode/service.json, which ocbar reads (restart the daemon if the service restarted with a new one); for a plain 'opencode serve', set OPENCODE_SERVER_PASSWORD in the daemon's environment",
            v.auth_failures
        );
    } else if v.auth_failures > 0 {
        let _ = writeln!(
            out,
            "  auth failures: {}: set OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if not 'opencode') in the daemon's environment",
            v.auth_failures
        );
    }
    if !v.connected
        && let Some(e) = &v.last_connect_error
    {
        let _ = writeln!(out, "  last error: {e}");
    }
    if !v.connected && !too_old && v2 {
        let _ = writeln!(
            out,
            "  fix: start OpenCode 2 ('opencode' starts its background service, or 'opencode serve --port 4096'), or point ocbar at the right --server"
        );
    } else if !v.connected && !too_old {
        let _ = writeln!(out, "  fix: {}", start_hint(url));
    }
    if let Some(e) = &v.last_resync_error {
        let _ = writeln!(out, "  last resync error: {e}");
    }
}

/// How to start an OpenCode that answers on `url` (the fix for a server not connected): its
/// own port, and its host when that is not this machine's loopback.
fn start_hint(url: &str) -> String {
    let https = url.starts_with("https://");
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    // `host:port`, `[v6]:port`, or a host alone (the scheme's port).
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h, p.to_string())
        }
        _ => (authority, if https { "443" } else { "80" }.to_string()),
    };
    let local = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    if local {
        format!(
            "start OpenCode on port {port} ('opencode --port {port}', or 'opencode serve --port {port}' and 'opencode attach {url}'), or point ocbar at the right --server"
        )
    } else {
        format!(
            "start OpenCode on {host}, listening on port {port} at an address this machine can reach ('opencode serve --hostname ADDRESS --port {port}' there), or point ocbar at the right --server"
        )
    }
}

impl StateLoop {
    /// One line per remote machine: linked or not, ssh's error in its own words with the fix,
    /// the far ocbar's version and whether it differs from this one.
    fn doctor_remotes(&self, out: &mut String, now: i64) {
        for (host, _, sessions) in self.remotes.hosts() {
            let Some(link) = self.links.get(host) else {
                continue;
            };
            let st = link.status();
            let here = env!("CARGO_PKG_VERSION");
            let version = match &st.version {
                Some(v) if v == here => format!("ocbar {v}"),
                Some(v) => format!(
                    "ocbar {v}, VERSION MISMATCH: this machine runs {here}; install the same version on both"
                ),
                None => "ocbar version not known yet".to_string(),
            };
            let host = crate::text::one_line(host, 100);
            if st.connected {
                let _ = writeln!(
                    out,
                    "remote {host}: connected over ssh ({version}; {sessions} sessions)"
                );
            } else {
                let retry = st
                    .retry_at_ms
                    .map(|at| format!("; trying again in {} s", ((at - now).max(0) + 999) / 1000))
                    .unwrap_or_default();
                match &st.error {
                    Some(why) => {
                        let _ = writeln!(
                            out,
                            "remote {host}: NOT CONNECTED: {why} ({version}{retry}; {sessions} sessions held, shown unreachable)"
                        );
                    }
                    None => {
                        let _ = writeln!(out, "remote {host}: connecting over ssh");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The fix names the server's own port (it said 4096 for every server).
    #[test]
    fn the_fix_for_a_server_not_connected_names_its_port_and_host() {
        use super::start_hint;
        assert_eq!(
            start_hint("http://127.0.0.1:5123"),
            "start OpenCode on port 5123 ('opencode --port 5123', or 'opencode serve --port 5123' and 'opencode attach http://127.0.0.1:5123'), or point ocbar at the right --server"
        );
        assert!(start_hint("http://localhost:4096").contains("'opencode --port 4096'"));
        assert!(start_hint("http://[::1]:7000").contains("'opencode --port 7000'"));
        let remote = start_hint("https://box.lan:8443");
        assert!(
            remote.starts_with("start OpenCode on box.lan, listening on port 8443 at an address this machine can reach ('opencode serve --hostname ADDRESS --port 8443' there)"),
            "{remote}"
        );
        assert!(start_hint("https://box.lan").contains("port 443"));
    }

    #[test]
    fn doctor_names_the_version_and_its_support() {
        use super::doctor_version;
        use crate::daemon::source::ServerStatsView;
        let line = |version: Option<&str>, resyncs: u64| {
            let mut out = String::new();
            let too_old = doctor_version(
                &mut out,
                &ServerStatsView {
                    version: version.map(str::to_string),
                    resyncs,
                    ..ServerStatsView::default()
                },
            );
            (out.trim().to_string(), too_old)
        };
        assert_eq!(
            line(Some("1.18.33"), 1),
            ("opencode 1.18.33 (supported)".to_string(), false)
        );
        let mut out = String::new();
        doctor_version(
            &mut out,
            &ServerStatsView {
                version: Some("2.0.20".into()),
                protocol: Some("OpenCode 2".into()),
                resyncs: 1,
                ..ServerStatsView::default()
            },
        );
        assert_eq!(
            out.trim(),
            "opencode 2.0.20 (supported), followed over the OpenCode 2 API (/api/event)"
        );
        let (text, too_old) = line(Some("1.0.98"), 0);
        assert!(too_old);
        assert!(
            text.contains("OpenCode 1.0.98 is older than the oldest supported (1.0.185)"),
            "{text}"
        );
        let (text, too_old) = line(None, 1);
        assert!(!too_old);
        assert!(text.starts_with("opencode version not reported"), "{text}");
        // Before anything was read: nothing claimed.
        assert_eq!(line(None, 0), (String::new(), false));
    }
}
