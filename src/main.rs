//! `ocbar`: the command line. Client commands never start an async runtime.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ocbar::client::{self, ClientError};
use ocbar::paths;
use ocbar::protocol::Request;

/// Watch every OpenCode session at once: status for tmux, waybar, starship and the OpenCode TUI.
///
/// Start the daemon once ('ocbar daemon', or the systemd unit); bars then ask it with
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
  OCBAR_SOCKET              the daemon socket
  NO_COLOR                  no colours in bar output

<SESSION> is a session id, a unique id prefix, or a unique part of its title.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the resident daemon in the foreground: follow OpenCode servers, serve the socket.
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
    /// The panel: one relevant session per line.
    List,
    /// Switch the OpenCode TUI to a session and mark it visited.
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
        /// Session id, id prefix or part of the title
        #[arg(required_unless_present = "all")]
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
    /// Install an integration: 'opencode-plugin' (the panel and focus reporting inside OpenCode).
    Install {
        /// What to install: opencode-plugin
        #[arg(value_parser = ["opencode-plugin"])]
        what: String,
        /// Remove it instead
        #[arg(long)]
        uninstall: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = paths::socket_path(cli.socket.as_deref());
    match cli.command {
        Command::Daemon {
            servers,
            config,
            replay,
        } => ocbar::daemon::main(servers, config, replay, socket),
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
                    .unwrap_or_else(|| ocbar::config::DEFAULT_SERVER.to_string())
            });
            match ocbar::replay::record(&server, &file, seconds) {
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
        Command::Status { format, offline } => status(&socket, &with_no_color(&format), &offline),
        Command::Watch { format, offline } => {
            match client::watch(&socket, &with_no_color(&format), &offline) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Command::List => action(&socket, Request::List),
        Command::Open {
            session,
            newest_unvisited,
        } => match session {
            Some(s) if !newest_unvisited => action(&socket, Request::Open(s)),
            _ => ocbar::bars::open_newest_unvisited(&socket),
        },
        Command::Seen { session, all } => match (session, all) {
            (_, true) => action(&socket, Request::SeenAll),
            (Some(s), false) => action(&socket, Request::Seen(s)),
            (None, false) => action(&socket, Request::SeenAll),
        },
        Command::Mute { session } => action(&socket, Request::Mute(session, true)),
        Command::Unmute { session } => action(&socket, Request::Mute(session, false)),
        Command::Doctor => doctor(&socket),
        Command::Install { what: _, uninstall } => install_plugin(uninstall),
    }
}

/// The daemon renders, so the client passes on `NO_COLOR` (https://no-color.org) from its own
/// environment: `starship` becomes `starship no-color`.
fn with_no_color(format: &str) -> String {
    match std::env::var_os("NO_COLOR") {
        Some(v) if !v.is_empty() => format!("{format} no-color"),
        _ => format.to_string(),
    }
}

/// Bar formats fail soft: exit 0, print the offline text (default nothing). JSON fails loud.
fn status(socket: &std::path::Path, format: &str, offline: &str) -> ExitCode {
    match client::request(socket, &Request::Status(format.to_string())) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(ClientError::Refused(msg)) => {
            eprintln!("ocbar: {msg}");
            ExitCode::from(2)
        }
        Err(e) if format.starts_with("json") => {
            eprintln!("ocbar: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            if !offline.is_empty() {
                println!("{offline}");
            }
            ExitCode::SUCCESS
        }
    }
}

fn action(socket: &std::path::Path, request: Request) -> ExitCode {
    match client::request(socket, &request) {
        Ok(text) => {
            if !text.is_empty() {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocbar: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `ocbar install opencode-plugin [--uninstall]` (src/install.rs).
fn install_plugin(uninstall: bool) -> ExitCode {
    let result = ocbar::install::opencode_config_dir().and_then(|dir| {
        if uninstall {
            ocbar::install::uninstall(&dir)
        } else {
            ocbar::install::install(&dir)
        }
    });
    match result {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
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
    match client::request(socket, &Request::Doctor) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("ocbar {} (client)", env!("CARGO_PKG_VERSION"));
            println!("socket: {}", socket.display());
            println!("daemon: NOT REACHABLE: {e}");
            println!();
            println!("Start the daemon with 'ocbar daemon' (or 'systemctl --user start ocbar'),");
            println!("and make sure every command uses the same socket (--socket / OCBAR_SOCKET).");
            ExitCode::FAILURE
        }
    }
}
