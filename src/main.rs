//! `ocbar`: the command line. Client commands never start an async runtime.
//!
//! No Rust runtime start-up either (`no_main`, see [`main`]): bars start this program many
//! times a minute, so its start-up is most of what a status query costs.
#![cfg_attr(not(test), no_main)]
// (Under `cargo test` the harness has its own `main`, and nothing calls `run`.)
#![cfg_attr(test, allow(dead_code))]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ocbar::client::{self, ClientError};
use ocbar::paths;
use ocbar::wire::{Action, Format, Request, Style};

/// Watch every OpenCode session at once: status for tmux, waybar, starship and the OpenCode TUI.
///
/// Start the daemon once ('ocbar daemon --background', or the systemd unit); bars then ask it with
/// 'ocbar status --format tmux|starship|waybar' or follow it with 'ocbar watch'.
#[derive(Parser, Debug)]
#[command(name = "ocbar", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    /// The daemon's socket [default: $XDG_RUNTIME_DIR/ocbar.sock, else /tmp/ocbar-$UID/ocbar.sock]
    #[arg(long, global = true, env = "OCBAR_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
Environment:
  OCBAR_SERVER              OpenCode server URLs, comma-separated (default http://127.0.0.1:4096)
  OPENCODE_SERVER_PASSWORD  password of password-protected servers (never pass it in argv)
  OPENCODE_SERVER_USERNAME  their user name (default: opencode)
  OCBAR_REMOTE              ssh destinations whose ocbar daemon to follow too, comma-separated
  OCBAR_SOCKET              the daemon socket
  NO_COLOR                  no colours in bar output

<SESSION> is a session id, a unique id prefix, or a unique part of its title.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the resident daemon (in the foreground; --background detaches it, logging to a file).
    Daemon {
        /// An OpenCode server to follow (repeatable) [default: $OCBAR_SERVER, the config file, http://127.0.0.1:4096]
        #[arg(long = "server", value_name = "URL")]
        servers: Vec<String>,
        /// Config file [default: $XDG_CONFIG_HOME/ocbar/config.toml]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Replay a recorded event stream (from 'ocbar record') instead of following the default server
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// Start it detached from the terminal and return once it answers (or say why it did not)
        #[arg(long)]
        background: bool,
        /// With --background: append its log to FILE [default: $XDG_STATE_HOME/ocbar/daemon.log]
        #[arg(long, value_name = "FILE", requires = "background")]
        log: Option<PathBuf>,
        /// Also show the sessions of another machine's ocbar daemon, over ssh (an ssh destination:
        /// an alias of ~/.ssh/config, HOST or USER@HOST; repeatable) [default: $OCBAR_REMOTE, the config file's remotes]
        #[arg(long = "remote", value_name = "HOST")]
        remotes: Vec<String>,
    },
    /// Record a server's raw event stream into FILE (secrets stripped), for bug reports.
    Record {
        /// Where to write the stream
        file: PathBuf,
        /// The OpenCode server [default: $OCBAR_SERVER's first, else http://127.0.0.1:4096]
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Stop after this many seconds [default: until Ctrl-C]
        #[arg(long, value_name = "N")]
        seconds: Option<u64>,
    },
    /// Print the status once, as one line.
    Status {
        /// plain, tmux, starship, waybar or json
        #[arg(long, short, default_value = "plain")]
        format: String,
        /// What a bar format prints when the daemon is not running
        #[arg(long, default_value = "", value_name = "TEXT")]
        offline: String,
    },
    /// Print the status, then one line per change, until the reader goes away.
    Watch {
        /// plain, tmux, starship, waybar or json
        #[arg(long, short, default_value = "plain")]
        format: String,
        /// What to print while the daemon is not running
        #[arg(long, default_value = "", value_name = "TEXT")]
        offline: String,
    },
    /// The session list: one relevant session per line.
    List,
    /// Show a session: switch the OpenCode TUI that can show it (or start one), bring its tmux
    /// pane and terminal window on screen, and mark it visited.
    Open {
        /// Session id, id prefix or part of the title
        #[arg(required_unless_present = "newest_unvisited")]
        session: Option<String>,
        /// The newest finished session not yet opened (what the bars highlight; for on-click)
        #[arg(long, conflicts_with = "session")]
        newest_unvisited: bool,
    },
    /// Mark a session (or all, with --all) as visited.
    Seen {
        /// Session id, id prefix or part of the title (or --all)
        session: Option<String>,
        /// Every session
        #[arg(long, conflicts_with = "session")]
        all: bool,
    },
    /// Turn notifications of a session off.
    Mute {
        /// Session id, id prefix or part of the title
        session: String,
    },
    /// Turn notifications of a session back on.
    Unmute {
        /// Session id, id prefix or part of the title
        session: String,
    },
    /// Say what is connected, what is not, and why.
    Doctor,
    /// The far end of another machine's '--remote' link (run by ssh; speaks on stdin/stdout).
    RemoteBridge,
    /// Install an integration: 'opencode-plugin' (the sidebar and focus reporting inside OpenCode).
    Install {
        /// What to install: opencode-plugin
        #[arg(value_parser = ["opencode-plugin"])]
        what: String,
        /// Remove it instead (for OpenCode 1 and 2 alike)
        #[arg(long)]
        uninstall: bool,
        /// Install for OpenCode 1 (tui.json), whatever 'opencode --version' says
        #[arg(long, conflicts_with_all = ["v2", "uninstall"])]
        v1: bool,
        /// Install for OpenCode 2 (plugins/ocbar/), whatever 'opencode --version' says
        #[arg(long, conflicts_with = "uninstall")]
        v2: bool,
    },
}

/// The C entry point, instead of Rust's runtime start-up.
///
/// Rust's start-up locates the main thread's stack for its stack-overflow message by having
/// glibc read and parse `/proc/self/maps`, and installs signal handlers and an alternate
/// signal stack: measured on the 2-core VM (interleaved fork/exec loop, 1000 runs),
/// `ocbar status --format tmux` against a running daemon went from 1.66x to 1.47x the time of
/// `/bin/true` without it (daemon down: 1.49x -> 1.29x). What of it matters here is done by
/// hand: SIGPIPE ignored (a closed pipe or socket is an error, not death), fds 0-2 open, stdout
/// flushed at the end. What is lost: a stack overflow is a plain SIGSEGV, without Rust's
/// message, and the main thread has no name in panic messages.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: plain libc calls at start-up, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // As Rust's start-up does: a closed standard fd would be taken by the next file or
        // socket opened, and `println!` would write into it.
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) > 0 {
            for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
                let flags = if p.fd == 0 {
                    libc::O_RDONLY
                } else {
                    libc::O_WRONLY
                };
                libc::open(c"/dev/null".as_ptr(), flags);
            }
        }
    }
    let code = run();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // `ExitCode` does not say its number on stable Rust: find it.
    (0..=255u8)
        .find(|&v| ExitCode::from(v) == code)
        .map_or(1, libc::c_int::from)
}

fn run() -> ExitCode {
    // Bars run `ocbar status --format F` many times a minute: that one shape is parsed by hand
    // (see `fast_status`); everything else, --help and mistakes included, goes through clap.
    if let Some(code) = fast_status() {
        return code;
    }
    let cli = Cli::parse();
    let socket = paths::socket_path(cli.socket.as_deref());
    match cli.command {
        Command::Daemon {
            servers,
            config,
            replay,
            background: true,
            log,
            remotes,
        } => {
            let mut args = Vec::new();
            for s in servers {
                args.extend(["--server".into(), s.into()]);
            }
            if let Some(c) = config {
                args.extend(["--config".into(), c.into_os_string()]);
            }
            if let Some(r) = replay {
                args.extend(["--replay".into(), r.into_os_string()]);
            }
            for r in remotes {
                args.extend(["--remote".into(), r.into()]);
            }
            client::background::start(&socket, args, log)
        }
        Command::Daemon {
            servers,
            config,
            replay,
            remotes,
            ..
        } => ocbar::daemon::main(servers, config, replay, remotes, socket),
        Command::Record {
            file,
            server,
            seconds,
        } => {
            let env = std::env::var("OCBAR_SERVER").ok();
            let server = server.unwrap_or_else(|| {
                env.as_deref()
                    .and_then(|e| e.split(',').next())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| ocbar::server_url::DEFAULT_SERVER.to_string())
            });
            match ocbar::daemon::replay::record(&server, &file, seconds) {
                Ok(msg) => {
                    eprintln!("ocbar: {msg}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ocbar: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Status { format, offline } => status(&socket, &format, &offline),
        Command::Watch { format, offline } => match style(&format) {
            Ok(style) => match client::watch(&socket, style, &offline) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            },
            Err(code) => code,
        },
        Command::List => client::run(&socket, Request::List),
        Command::Open {
            session,
            newest_unvisited,
        } => match session {
            Some(s) if !newest_unvisited => client::run(&socket, Request::Action(Action::Open(s))),
            _ => ocbar::client::bars::open_newest_unvisited(&socket),
        },
        Command::Seen { session, all } => match (session, all) {
            (_, true) => client::run(&socket, Request::Action(Action::SeenAll)),
            (Some(s), false) => client::run(&socket, Request::Action(Action::Seen(s))),
            (None, false) => {
                eprintln!(
                    "ocbar: which session? 'ocbar seen SESSION' (an id, id prefix or part of its title), or 'ocbar seen --all' for every session"
                );
                ExitCode::from(2)
            }
        },
        Command::Mute { session } => {
            client::run(&socket, Request::Action(Action::Mute(session, true)))
        }
        Command::Unmute { session } => {
            client::run(&socket, Request::Action(Action::Mute(session, false)))
        }
        Command::Doctor => doctor(&socket),
        Command::Install {
            what: _,
            uninstall,
            v1,
            v2,
        } => {
            use ocbar::client::install::Major;
            let forced = match (v1, v2) {
                (true, _) => Some(Major::V1),
                (_, true) => Some(Major::V2),
                _ => None,
            };
            install_plugin(uninstall, forced)
        }
        Command::RemoteBridge => client::remote_bridge::run(&socket),
    }
}

/// `ocbar [--socket P] status [-f F|-fF|--format F|--format=F] [--offline T|--offline=T]
/// [--socket P|--socket=P]` without clap; `None` for anything else (clap then parses it, and
/// reports errors and help exactly as before).
///
/// clap builds the whole command tree (every subcommand, argument and help text) before it
/// looks at argv. Measured on the 2-core VM (interleaved fork/exec loop, 1000 runs each):
/// with clap `ocbar status --format tmux` took 2.16x the time of `/bin/true`.
fn fast_status() -> Option<ExitCode> {
    let (socket, format, offline) = parse_status(std::env::args_os().skip(1))?;
    let socket = paths::socket_path(socket.as_deref().map(std::path::Path::new));
    let format = format.unwrap_or_else(|| "plain".to_string());
    Some(status(&socket, &format, offline.as_deref().unwrap_or("")))
}

/// The (socket, format, offline) of a plain `status` command line, or `None`.
fn parse_status(
    mut args: impl Iterator<Item = std::ffi::OsString>,
) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let (mut socket, mut format, mut offline) = (None::<String>, None::<String>, None::<String>);
    let mut is_status = false;
    // Each option at most once, and a value never empty nor looking like an option: clap
    // has its own rules for those.
    fn set(slot: &mut Option<String>, value: Option<String>) -> Option<()> {
        let v = value.filter(|v| !v.is_empty() && !v.starts_with('-'))?;
        if slot.replace(v).is_some() {
            return None;
        }
        Some(())
    }
    while let Some(arg) = args.next() {
        let arg = arg.into_string().ok()?;
        let mut next = || args.next().and_then(|v| v.into_string().ok());
        match arg.as_str() {
            "status" if !is_status => is_status = true,
            "--socket" => set(&mut socket, next())?,
            "-f" | "--format" if is_status => set(&mut format, next())?,
            "--offline" if is_status => set(&mut offline, next())?,
            a => {
                if let Some(v) = a.strip_prefix("--socket=") {
                    set(&mut socket, Some(v.to_string()))?;
                } else if let Some(v) = a.strip_prefix("--format=").filter(|_| is_status) {
                    set(&mut format, Some(v.to_string()))?;
                } else if let Some(v) = a.strip_prefix("--offline=").filter(|_| is_status) {
                    set(&mut offline, Some(v.to_string()))?;
                } else if let Some(v) = a
                    .strip_prefix("-f")
                    .filter(|v| is_status && !v.starts_with('='))
                {
                    set(&mut format, Some(v.to_string()))?;
                } else {
                    return None;
                }
            }
        }
    }
    is_status.then_some((socket, format, offline))
}

/// The style to ask for: `format`, with `no-color` when the client's environment has `NO_COLOR`
/// (https://no-color.org; the daemon renders, so the client says so). A bad format is the
/// user's mistake: said at once, exit 2, whether or not a daemon runs.
fn style(format: &str) -> Result<Style, ExitCode> {
    match format.parse::<Format>() {
        Ok(format) => Ok(Style {
            format,
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }),
        Err(e) => {
            eprintln!("ocbar: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Bar formats fail soft: exit 0, print the offline text (default nothing). JSON fails loud.
fn status(socket: &std::path::Path, format: &str, offline: &str) -> ExitCode {
    let style = match style(format) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match client::request(socket, &Request::Status(style)) {
        Ok(line) => {
            ocbar::say!("{line}");
            ExitCode::SUCCESS
        }
        Err(ClientError::Refused(msg)) => {
            eprintln!("ocbar: {msg}");
            ExitCode::from(2)
        }
        Err(e) if style.format == Format::Json => {
            eprintln!("ocbar: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            if !offline.is_empty() {
                ocbar::say!("{offline}");
            }
            ExitCode::SUCCESS
        }
    }
}

/// `ocbar install opencode-plugin [--v1|--v2] [--uninstall]` (src/client/install.rs).
fn install_plugin(uninstall: bool, forced: Option<ocbar::client::install::Major>) -> ExitCode {
    use ocbar::client::install;
    let result = install::opencode_config_dir().and_then(|dir| {
        if uninstall {
            install::uninstall(&dir)
        } else {
            let detected = install::detect(&dir, forced);
            let mut lines = vec![format!("installing for {}", detected.why)];
            lines.extend(install::install(&dir, detected.major)?);
            Ok(lines)
        }
    });
    match result {
        Ok(lines) => {
            for l in lines {
                ocbar::say!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocbar: {e}");
            ExitCode::FAILURE
        }
    }
}

fn doctor(socket: &std::path::Path) -> ExitCode {
    match client::request(socket, &Request::Action(Action::Doctor)) {
        Ok(text) => {
            ocbar::say!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            ocbar::say!("ocbar {} (client)", env!("CARGO_PKG_VERSION"));
            ocbar::say!("socket: {}", socket.display());
            ocbar::say!("daemon: NOT REACHABLE: {e}");
            if let Err(e) = paths::check_socket_dir(socket) {
                ocbar::say!("socket directory: {e}");
            }
            ocbar::say!("");
            match ocbar::last_error::read(socket) {
                Some(last) => {
                    let now_ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
                    let ago = (now_ms - last.at_ms).max(0) / 1000;
                    ocbar::say!(
                        "The last daemon on this socket FAILED TO START ({ago}s ago, pid {}):",
                        last.pid
                    );
                    ocbar::say!("  {}", last.error);
                    ocbar::say!("fix: {},", last.fix);
                    ocbar::say!(
                        "then start it again: 'ocbar daemon --background' (tmux: reload the config; systemd: 'systemctl --user restart ocbar')."
                    );
                }
                None => {
                    ocbar::say!(
                        "Start the daemon with 'ocbar daemon --background' (or 'systemctl --user start ocbar'),"
                    );
                    ocbar::say!(
                        "and make sure every command uses the same socket (--socket / OCBAR_SOCKET)."
                    );
                }
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the hand parser accepts, clap parses to the same values.
    #[test]
    fn fast_status_parse_agrees_with_clap() {
        let lines = [
            "status",
            "status --format tmux",
            "status -f tmux",
            "status -ftmux",
            "status --format=waybar --offline OFF",
            "status --offline=x -f json",
            "--socket /s status -f starship",
            "--socket=/s status",
            "status --socket /s --format plain",
            "status --format tmux --format plain",
            "status -f=tmux",
            "status --format",
            "status --offline -x",
            "status --help",
            "status extra",
            "status status",
            "--socket /s list",
            "watch --format tmux",
            "",
        ];
        let mut fast = 0;
        for line in lines {
            let argv: Vec<&str> = line.split_whitespace().collect();
            let parsed = parse_status(argv.iter().map(std::ffi::OsString::from));
            let Some((socket, format, offline)) = parsed else {
                continue;
            };
            fast += 1;
            let cli = Cli::try_parse_from(std::iter::once("ocbar").chain(argv.iter().copied()))
                .unwrap_or_else(|e| panic!("{line}: clap refuses what the fast path took: {e}"));
            let Command::Status {
                format: f,
                offline: o,
            } = cli.command
            else {
                panic!("{line}: not status for clap");
            };
            assert_eq!(format.as_deref().unwrap_or("plain"), f, "{line}");
            assert_eq!(offline.as_deref().unwrap_or(""), o, "{line}");
            if let Some(s) = socket {
                assert_eq!(
                    cli.socket.as_deref(),
                    Some(std::path::Path::new(&s)),
                    "{line}"
                );
            }
        }
        assert_eq!(fast, 9, "the common shapes take the fast path");
    }
}
