//! Reading `/proc`: which processes are OpenCode servers (or TUIs with a listener, or attached
//! TUIs), and on which address they listen. Blocking; called from the scan task.

use super::*;

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

pub(super) fn base_name(s: &str) -> &str {
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
pub(super) fn connect_host(host: Option<&str>) -> String {
    match host.map(str::trim) {
        None | Some("" | "0.0.0.0" | "localhost") => "127.0.0.1".into(),
        Some("::" | "[::]" | "::1" | "[::1]") => "[::1]".into(),
        Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        Some(h) => h.to_string(),
    }
}

/// Listening TCP sockets of a `/proc/net/tcp{,6}` table: inode → (address, port).
pub(super) fn listening(table: &str, v6: bool) -> HashMap<u64, (String, u16)> {
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
pub(super) fn listening_ports(proc_root: &Path, pid: u32) -> Vec<(String, u16)> {
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
            out.push(Found {
                url,
                how,
                credentials: None,
            });
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

/// An OpenCode TUI process that shows the sessions of one server, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiProcess {
    pub pid: u32,
    /// Its tmux server socket and pane (`$TMUX`, `$TMUX_PANE` in its environment), when it runs
    /// in tmux.
    pub tmux: Option<(String, String)>,
}

/// `$TMUX`'s socket and `$TMUX_PANE` of a `/proc/PID/environ` (NUL-separated).
pub fn tmux_of_environ(environ: &[u8]) -> Option<(String, String)> {
    let mut socket = None;
    let mut pane = None;
    for var in environ.split(|&b| b == 0) {
        let var = String::from_utf8_lossy(var);
        if let Some(v) = var.strip_prefix("TMUX=") {
            socket = v
                .split(',')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        } else if let Some(v) = var.strip_prefix("TMUX_PANE=") {
            pane = Some(v.to_string()).filter(|p| p.starts_with('%'));
        }
    }
    socket.zip(pane)
}

/// The TUI processes under `proc_root` that show `server`'s sessions: `opencode attach URL`
/// naming it, or an `opencode --port N` TUI listening on it. A wrapper and the program it runs
/// share one pane: each pane is listed once. Blocking (reads `/proc`).
pub fn tuis_of(proc_root: &Path, server: &str) -> Vec<TuiProcess> {
    let key = crate::server_url::url_key(server);
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let mut out: Vec<TuiProcess> = Vec::new();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&raw);
        let argv: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
        let shows = match parse_cmdline(&argv) {
            Some(Seen::Attach { url }) => crate::server_url::url_key(&url) == key,
            Some(Seen::Listener {
                what: "opencode TUI --port",
                host,
                port,
            }) => {
                let ports = match port {
                    Some(p) => vec![(host.unwrap_or_default(), p)],
                    None => listening_ports(proc_root, pid),
                };
                ports.into_iter().any(|(h, p)| {
                    crate::server_url::url_key(&format!("http://{}:{p}", connect_host(Some(&h))))
                        == key
                })
            }
            _ => false,
        };
        if !shows {
            continue;
        }
        let tmux = std::fs::read(dir.join("environ"))
            .ok()
            .and_then(|e| tmux_of_environ(&e));
        if tmux.is_some() && out.iter().any(|t| t.tmux == tmux) {
            continue;
        }
        out.push(TuiProcess { pid, tmux });
    }
    out
}
