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
    /// Other machines whose ocbar daemon to follow over ssh (overridden by `OCBAR_REMOTE` and
    /// `--remote`): ssh destinations.
    pub remotes: Vec<String>,
    /// `[remote]`: how those machines are reached.
    pub remote: RemoteConfig,
}

/// `[remote]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// The ssh client: a command line (split on blanks) or an argv list. Default `ssh`.
    pub ssh_command: Command,
    /// What runs on the far side (through its login shell): ocbar there. Default `ocbar`.
    pub ocbar_command: String,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            ssh_command: Command::Line("ssh".into()),
            ocbar_command: "ocbar".into(),
        }
    }
}

/// A program to run, as a config file may give it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Command {
    /// `"ssh -F /path/config"`: split on blanks (no shell).
    Line(String),
    /// `["ssh", "-F", "/a path/config"]`.
    Argv(Vec<String>),
}

impl Command {
    /// The argv; empty when nothing was given.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Line(l) => l.split_whitespace().map(str::to_string).collect(),
            Command::Argv(v) => v.iter().filter(|a| !a.is_empty()).cloned().collect(),
        }
    }
}

/// The remote machines to follow: `--remote` flags, else `OCBAR_REMOTE` (comma-separated),
/// else the config file's `remotes`. Blanks are trimmed, duplicates merged; a name that ssh
/// would take for an option (starts with `-`) is refused.
pub fn remotes(
    flags: &[String],
    env: Option<&str>,
    config: &Config,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for r in first_given(flags, env, &config.remotes).unwrap_or_default() {
        let r = r.trim();
        if r.is_empty() {
            continue;
        }
        if r.starts_with('-') || r.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "'{}' is not an ssh destination: give a host name, USER@HOST or an alias of ~/.ssh/config",
                crate::text::one_line(r, 80)
            ));
        }
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    Ok(out)
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

/// Parse config text; the error names the line and column, the key, what kind of value it
/// takes in words, and the fix (see [`explain`]).
pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| {
        let start = e.span().map(|span| span.start);
        let (line, col) = start.map(|s| line_col(text, s)).unwrap_or((0, 0));
        let raw = e.message().trim();
        let msg = start
            .and_then(|s| key_at(text, s))
            .and_then(|(key, value)| explain(raw, &key, &value))
            .unwrap_or_else(|| raw.to_string());
        if line > 0 {
            format!("line {line}, column {col}: {msg}")
        } else {
            msg
        }
    })
}

/// The dotted key (`render.title_width`) and the value text (`"wide"`) of the `key = value`
/// line holding byte `offset`, under the last `[table]` header before it.
fn key_at(text: &str, offset: usize) -> Option<(String, String)> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let (key, value) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let value = value.trim();
    // Without a trailing comment: quoted text ends at its closing quote (it may hold a '#').
    let value = match value.chars().next() {
        Some(q @ ('"' | '\'')) => value[1..].find(q).map_or(value, |end| &value[..end + 2]),
        _ => value.split('#').next().unwrap_or_default().trim_end(),
    };
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    let key = match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    };
    Some((key, value.to_string()))
}

/// The parser's message about `key = value` in words, with the fix; `None` for messages that
/// already read right (unknown keys, bad colours and templates say what they mean).
///
/// `invalid type: string "wide", expected usize` becomes `render.title_width takes a whole
/// number (0 or more), not text: write title_width = 24`; an unquoted word where text is
/// wanted (`offline_marker = off`, `= nan`) becomes `… takes text: quote it, offline_marker = "off"`.
fn explain(raw: &str, key: &str, value: &str) -> Option<String> {
    let name = key.rsplit('.').next().unwrap_or(key);
    let unquoted = value.trim_matches(|c| c == '"' || c == '\'');
    let quote_it = || format!("{key} takes text in quotes: quote it, {name} = \"{value}\"");
    if raw.starts_with("string values must be quoted") {
        return Some(quote_it());
    }
    if raw.contains("did not match any variant of untagged enum CommandSpec") {
        return Some(format!(
            "{key} takes a command: text run with sh -c ({name} = \"notify-send ocbar\") or a list of the program and its arguments ({name} = [\"notify-send\", \"ocbar\"])"
        ));
    }
    let (got, expected) = raw
        .strip_prefix("invalid type: ")
        .or_else(|| raw.strip_prefix("invalid value: "))?
        .split_once(", expected ")?;
    let got_text = got.starts_with("string");
    let kind = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number (0 or more)",
        "isize" | "i64" | "i32" | "i16" | "i8" => "a whole number",
        "f64" | "f32" => "a number",
        "a boolean" => "true or false",
        "a string" | "literal string" => return (!got_text).then(quote_it),
        "a sequence" => "a list in brackets",
        e if e.starts_with("struct ") || e == "a map" => "a table",
        _ => return None,
    };
    let fix = match kind {
        _ if got_text && kind.contains("number") && unquoted.parse::<f64>().is_ok() => {
            format!("remove the quotes, {name} = {unquoted}")
        }
        "true or false" if matches!(unquoted, "true" | "false") => {
            format!("remove the quotes, {name} = {unquoted}")
        }
        "true or false" => format!("write {name} = true or {name} = false"),
        "a whole number (0 or more)" if got.starts_with("integer") => {
            format!("use 0 or more, not {value}")
        }
        _ if kind.starts_with("a whole number") && got.starts_with("floating point") => {
            format!("drop the fraction, not {value}")
        }
        "a list in brackets" if got_text => format!("put it in brackets, {name} = [{value}]"),
        "a table" => format!("write it as a [{key}] section with its keys below"),
        _ => format!("not {value}"),
    };
    Some(format!("{key} takes {kind}: {fix}"))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The first list given: the flags, else the environment variable (comma-separated), else the
/// config file's; `None` when none is.
fn first_given(flags: &[String], env: Option<&str>, config: &[String]) -> Option<Vec<String>> {
    if !flags.is_empty() {
        Some(flags.to_vec())
    } else if let Some(env) = env.filter(|e| !e.trim().is_empty()) {
        Some(env.split(',').map(str::to_string).collect())
    } else if !config.is_empty() {
        Some(config.to_vec())
    } else {
        None
    }
}

/// The servers to follow: `--server` flags, else `OCBAR_SERVER` (comma-separated), else the
/// config file's `servers`, else the default. Each is checked ([`ServerUrl::parse`]); the first
/// bad one is the error; duplicates are merged.
pub fn servers(
    flags: &[String],
    env: Option<&str>,
    config: &Config,
) -> Result<Vec<ServerUrl>, String> {
    let chosen = first_given(flags, env, &config.servers)
        .unwrap_or_else(|| vec![DEFAULT_SERVER.to_string()]);
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

#[cfg(test)]
mod tests {
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
    fn remotes_and_the_remote_table() {
        let c = parse(
            "remotes = [\"devbox\", \"me@10.0.0.5\"]\n[remote]\nssh_command = [\"ssh\", \"-F\", \"/a b/cfg\"]\nocbar_command = \"~/.cargo/bin/ocbar\"\n",
        )
        .unwrap();
        assert_eq!(c.remote.ssh_command.argv(), ["ssh", "-F", "/a b/cfg"]);
        assert_eq!(c.remote.ocbar_command, "~/.cargo/bin/ocbar");
        assert_eq!(remotes(&[], None, &c).unwrap(), ["devbox", "me@10.0.0.5"]);
        assert_eq!(remotes(&[], Some(" a, b ,a"), &c).unwrap(), ["a", "b"]);
        assert_eq!(remotes(&["x".into()], Some("a"), &c).unwrap(), ["x"]);
        assert!(remotes(&["-oProxyCommand=x".into()], None, &c).is_err());
        let line = parse("[remote]\nssh_command = \"ssh -p 2222\"\n").unwrap();
        assert_eq!(line.remote.ssh_command.argv(), ["ssh", "-p", "2222"]);
        assert_eq!(Config::default().remote.ssh_command.argv(), ["ssh"]);
    }

    #[test]
    fn empty_config_is_all_defaults() {
        let c = parse("").unwrap();
        assert!(c.servers.is_empty());
        assert_eq!(c.model.linger_minutes, 30);
        assert_eq!(c.model.to_model().unvisited_ms, 7 * 86_400_000);
        let never = parse("[model]\nunvisited_days = 0\n").unwrap();
        assert_eq!(never.model.to_model().unvisited_ms, 0);
    }

    /// A value of the wrong kind names the key, the kind in words and the fix; it read like
    /// Rust (`expected usize`, `invalid float, expected 'nan'` for an unquoted word).
    #[test]
    fn wrong_kinds_of_values_are_explained_in_words() {
        for (text, want) in [
            (
                "[render]\ntitle_width = \"wide\"\n",
                "line 2, column 15: render.title_width takes a whole number (0 or more): not \"wide\"",
            ),
            (
                "[notify]\ntimeout_ms = \"3000\" # ms\n",
                "line 2, column 14: notify.timeout_ms takes a whole number (0 or more): remove the quotes, timeout_ms = 3000",
            ),
            (
                "[render]\ntitle_width = -3\n",
                "line 2, column 15: render.title_width takes a whole number (0 or more): use 0 or more, not -3",
            ),
            (
                "[model]\nlinger_minutes = 1.5\n",
                "line 2, column 18: model.linger_minutes takes a whole number (0 or more): drop the fraction, not 1.5",
            ),
            (
                "[render]\noffline_marker = off\n",
                "line 2, column 18: render.offline_marker takes text in quotes: quote it, offline_marker = \"off\"",
            ),
            (
                "[render]\noffline_marker = nan\n",
                "line 2, column 18: render.offline_marker takes text in quotes: quote it, offline_marker = \"nan\"",
            ),
            (
                "[render.colors]\nbusy = 3\n",
                "line 2, column 8: render.colors.busy takes text in quotes: quote it, busy = \"3\"",
            ),
            (
                "[render]\nascii = \"yes\"\n",
                "line 2, column 9: render.ascii takes true or false: write ascii = true or ascii = false",
            ),
            (
                "[notify]\nenabled = \"false\"\n",
                "line 2, column 11: notify.enabled takes true or false: remove the quotes, enabled = false",
            ),
            (
                "servers = \"http://x:1\"\n",
                "line 1, column 11: servers takes a list in brackets: put it in brackets, servers = [\"http://x:1\"]",
            ),
            (
                "[notify]\ncommand = 3\n",
                "line 2, column 11: notify.command takes a command: text run with sh -c (command = \"notify-send ocbar\") or a list of the program and its arguments (command = [\"notify-send\", \"ocbar\"])",
            ),
            (
                "render = 3\n",
                "line 1, column 10: render takes a table: write it as a [render] section with its keys below",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err, want, "{text:?}");
            for rust in ["usize", "u64", "untagged", "struct", "expected"] {
                assert!(!err.contains(rust), "{err}");
            }
        }
        // Messages that already read right are left as they are.
        let err = parse("[render.colors]\nbusy = \"reddish\"\n").unwrap_err();
        assert!(err.contains("unknown colour \"reddish\""), "{err}");
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
