//! The TOML config file (`$XDG_CONFIG_HOME/ocbar/config.toml`, or `--config FILE`).
//!
//! Read by the daemon only; the client path never parses it. Unknown keys are errors, and an
//! error names the file, line and column, so a typo never turns silently into a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::daemon::notify::config::NotifyConfig;
use crate::model::ModelConfig;
use crate::render::RenderConfig;
use crate::server_url::{DEFAULT_SERVER, ServerUrl};

/// The whole config file. Every table and key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// OpenCode servers to follow (overridden by `OCBAR_SERVER` and `--server`).
    pub servers: Vec<String>,
    /// `[model]`: session model tunables.
    pub model: ModelTable,
    /// `[render]`: what the bar segments look like.
    pub render: RenderConfig,
    /// `[notify]`: notification channels and switches.
    pub notify: NotifyConfig,
    /// `[discovery]`: find running OpenCode servers without configuration.
    pub discovery: DiscoveryConfig,
    /// `[tmux]`: push mode (`@ocbar`) and which tmux server.
    pub tmux: TmuxConfig,
    /// `[open]`: what `ocbar open` starts when no OpenCode TUI can show the session.
    pub open: OpenConfig,
    /// `[i3blocks]`: which signal wakes the i3blocks block on a change.
    pub i3blocks: I3blocksConfig,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelTable {
    /// Minutes a visited finished session stays listed (default 30).
    pub linger_minutes: u64,
    /// Days an unvisited mark is kept after the session finished (default 7; 0: for ever).
    pub unvisited_days: u64,
}

impl Default for ModelTable {
    fn default() -> Self {
        ModelTable {
            linger_minutes: 30,
            unvisited_days: 7,
        }
    }
}

impl ModelTable {
    /// The model's own config.
    pub fn to_model(&self) -> ModelConfig {
        ModelConfig {
            linger_ms: (self.linger_minutes.min(1_000_000) * 60_000) as i64,
            unvisited_ms: (self.unvisited_days.min(100_000) * 86_400_000) as i64,
        }
    }
}

/// Load the config: an explicit path must exist; the default path may be absent (defaults).
pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), String> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match crate::paths::config_file() {
            Some(p) => (p, false),
            None => return Ok((Config::default(), None)),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            return Ok((Config::default(), None));
        }
        Err(e) => return Err(format!("cannot read config file {}: {e}", path.display())),
    };
    parse(&text)
        .map(|c| (c, Some(path.clone())))
        .map_err(|e| format!("config file {}: {e}", path.display()))
}

/// Parse config text; the error names the line and column.
pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|span| line_col(text, span.start))
            .unwrap_or((0, 0));
        let msg = e.message().trim().to_string();
        if line > 0 {
            format!("line {line}, column {col}: {msg}")
        } else {
            msg
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The servers to follow: `--server` flags, else `OCBAR_SERVER` (comma-separated), else the
/// config file's `servers`, else the default. Each is checked ([`ServerUrl::parse`]); the first
/// bad one is the error; duplicates are merged.
pub fn servers(
    flags: &[String],
    env: Option<&str>,
    config: &Config,
) -> Result<Vec<ServerUrl>, String> {
    let chosen: Vec<String> = if !flags.is_empty() {
        flags.to_vec()
    } else if let Some(env) = env.filter(|e| !e.trim().is_empty()) {
        env.split(',').map(str::to_string).collect()
    } else if !config.servers.is_empty() {
        config.servers.clone()
    } else {
        vec![DEFAULT_SERVER.to_string()]
    };
    let mut out: Vec<ServerUrl> = Vec::new();
    for s in chosen.iter().filter(|s| !s.trim().is_empty()) {
        let url = ServerUrl::parse(s)?;
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// `[discovery]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Scan for running OpenCode servers (default true; `OCBAR_DISCOVERY=0` turns it off).
    pub enabled: bool,
    /// Seconds between two scans (default 5, at least 1).
    pub interval_seconds: u64,
    /// URLs asked on every scan whether or not a process names them, followed while an
    /// OpenCode answers there (e.g. a server in a container, whose process is not visible).
    /// Default: OpenCode's default server `http://127.0.0.1:4096` when no server is configured.
    pub probe: Option<Vec<String>>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            enabled: true,
            interval_seconds: 5,
            probe: None,
        }
    }
}

/// `[open]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenConfig {
    /// What starts a TUI when none can show the session (see `crate::daemon::jump::launch`).
    pub command: Option<crate::daemon::notify::config::CommandSpec>,
    /// The OpenCode program the default command runs (default `opencode`, found on the tmux
    /// server's `PATH`).
    pub opencode: Option<String>,
}

/// The `[tmux]` table of the config file.
///
/// ```toml
/// [tmux]
/// push = true                 # keep the tmux option @ocbar set to the tmux line
/// socket = "/tmp/my-tmux"     # the tmux server (tmux -S); default: $TMUX's, else tmux's default
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TmuxConfig {
    /// Push the tmux line into `@ocbar` on every change.
    pub push: bool,
    /// The tmux server socket (`tmux -S`). Default: `$TMUX`'s server, else tmux's default.
    pub socket: Option<PathBuf>,
}

impl Default for TmuxConfig {
    fn default() -> Self {
        TmuxConfig {
            push: true,
            socket: None,
        }
    }
}

impl TmuxConfig {
    /// Push on, to `socket` (or `$TMUX`'s server / tmux's default when `None`).
    pub fn with_socket(socket: Option<PathBuf>) -> Self {
        TmuxConfig { push: true, socket }
    }
}

/// The highest `N` for `SIGRTMIN+N` (Linux with glibc has 30 real-time signals above SIGRTMIN).
pub const MAX_SIGNAL: u8 = 30;

/// `[i3blocks]`: the daemon sends `SIGRTMIN+signal` to the user's i3blocks on every change of
/// the i3blocks line (`daemon::i3blocks`).
///
/// ```toml
/// [i3blocks]
/// signal = 11    # the block's `signal=` (1-30); 0: do not signal i3blocks
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct I3blocksConfig {
    /// `N` of `SIGRTMIN+N`, the block's `signal=`; 0: off.
    #[serde(deserialize_with = "signal_number")]
    pub signal: u8,
}

impl Default for I3blocksConfig {
    fn default() -> Self {
        I3blocksConfig { signal: 11 }
    }
}

fn signal_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = u8::deserialize(d)?;
    if n > MAX_SIGNAL {
        return Err(serde::de::Error::custom(format!(
            "signal = {n}: i3blocks takes 1 to {MAX_SIGNAL} (SIGRTMIN+N), or 0 for off"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_reads_and_checks_the_signal() {
        let c: super::I3blocksConfig = toml::from_str("").unwrap();
        assert_eq!(c.signal, 11);
        let c: super::I3blocksConfig = toml::from_str("signal = 0").unwrap();
        assert_eq!(c.signal, 0);
        let e = toml::from_str::<super::I3blocksConfig>("signal = 31")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 to 30"), "{e}");
        assert!(toml::from_str::<super::I3blocksConfig>("signl = 3").is_err());
    }

    #[test]
    fn the_open_table_reads() {
        use super::OpenConfig;
        use crate::daemon::notify::config::CommandSpec;
        let c: OpenConfig = toml::from_str("command = \"foot $OCBAR_ATTACH\"").unwrap();
        assert!(matches!(c.command, Some(CommandSpec::Shell(_))));
        let c: OpenConfig = toml::from_str("command = \"\"").unwrap();
        assert_eq!(c.command.and_then(|c| c.argv()), None);
        assert!(toml::from_str::<OpenConfig>("commands = 1").is_err());
    }

    use super::*;

    #[test]
    fn empty_config_is_all_defaults() {
        let c = parse("").unwrap();
        assert!(c.servers.is_empty());
        assert_eq!(c.model.linger_minutes, 30);
        assert_eq!(c.model.to_model().unvisited_ms, 7 * 86_400_000);
        let never = parse("[model]\nunvisited_days = 0\n").unwrap();
        assert_eq!(never.model.to_model().unvisited_ms, 0);
    }

    #[test]
    fn typos_are_errors_naming_the_line() {
        let err = parse("servers = []\n[model]\nlinger_minute = 5\n").unwrap_err();
        assert!(err.starts_with("line 3, column 1"), "{err}");
        assert!(err.contains("linger_minute"), "{err}");
    }

    #[test]
    fn server_precedence_and_cleanup() {
        let c = parse("servers = [\"http://a:1/\"]").unwrap();
        assert_eq!(
            servers(&[], None, &c).unwrap(),
            vec![ServerUrl::from("http://a:1")]
        );
        assert_eq!(
            servers(&[], Some("http://b:2, http://b:2/"), &c).unwrap(),
            vec![ServerUrl::from("http://b:2")]
        );
        assert_eq!(
            servers(&["http://c:3".into()], Some("http://b:2"), &c).unwrap(),
            vec![ServerUrl::from("http://c:3")]
        );
        assert_eq!(
            servers(&[], None, &Config::default()).unwrap(),
            vec![ServerUrl::from(DEFAULT_SERVER)]
        );
    }

    #[test]
    fn a_bad_server_is_explained() {
        let e = servers(&["localhost:4096".into()], None, &Config::default()).unwrap_err();
        assert!(e.contains("http://HOST:PORT"), "{e}");
    }
}
