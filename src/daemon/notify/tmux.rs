//! The tmux channel: a notification in ocbar's own tmux segment, or `display-message`.
//!
//! - `segment` (the default): the text goes to the daemon ([`Notice`], through the sink given
//!   to [`super::Notifier::tmux_notices`]), which shows it before its tmux segment for
//!   `display_ms` — in the pushed `@ocbar` and in `ocbar status --format tmux` alike. The
//!   screen keeps redrawing: nothing in tmux waits for it.
//! - `message` (opt-in): `tmux display-message -d display_ms` on every attached client of a
//!   reachable tmux server. In tmux 3.3a a client does not redraw its panes while a message is
//!   shown, so whatever the user watches stands still until it goes away. The server is the
//!   configured socket (`tmux -S`), else the one `$TMUX` names (tmux itself reads it), else
//!   tmux's default. No reachable server, or no attached client: nothing to do.

use std::path::PathBuf;

use futures_util::future::join_all;

use super::NoticeSink;
use super::config::TmuxDisplay;
use super::delivery::Delivery;
use super::log;
use crate::daemon::tmux::{self, Server};
use crate::model::effect::NotifyKind;

/// A notification for the daemon's tmux segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What to show (as every channel says it, e.g. "Fix the parser finished"); raw: the
    /// renderer cleans, cuts and escapes it.
    pub text: String,
    /// The most severe kind in it: its state colour.
    pub kind: NotifyKind,
    /// How long to show it.
    pub display_ms: u64,
}

/// The tmux channel.
pub struct Tmux {
    server: Server,
    display_ms: u64,
    display: TmuxDisplay,
    notices: Option<NoticeSink>,
}

impl Tmux {
    /// `notices` receives the notices in [`TmuxDisplay::Segment`] mode.
    pub fn new(
        socket: Option<PathBuf>,
        display_ms: u64,
        display: TmuxDisplay,
        notices: Option<NoticeSink>,
    ) -> Tmux {
        Tmux {
            server: Server::on(socket),
            display_ms,
            display,
            notices,
        }
    }

    /// The names of the attached clients, or `None` when no tmux server answers.
    async fn clients(&self) -> Option<Vec<String>> {
        match self
            .server
            .run(&["list-clients", "-F", "#{client_name}"])
            .await
        {
            Ok(out) => Some(
                out.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            Err(e) => {
                log::debug(&format!("tmux: no server reachable ({e})"));
                None
            }
        }
    }

    /// Show the delivery: in the segment, or as a message on every attached client.
    pub async fn deliver(&self, d: &Delivery) -> Result<(), String> {
        match self.display {
            TmuxDisplay::Segment => match &self.notices {
                Some(sink) => {
                    sink(Notice {
                        text: d.text(),
                        kind: d.kind(),
                        display_ms: self.display_ms,
                    });
                    Ok(())
                }
                None => Err("no tmux segment to show it in (not in a daemon)".into()),
            },
            TmuxDisplay::Message => self.display_message(d).await,
        }
    }

    /// `display-message` on every attached client.
    async fn display_message(&self, d: &Delivery) -> Result<(), String> {
        let Some(clients) = self.clients().await else {
            return Ok(());
        };
        let message = tmux::message(&format!("ocbar: {}", d.text()));
        let delay = self.display_ms.max(1).to_string();
        let shows = clients.iter().map(|client| {
            let args = [
                "display-message",
                "-c",
                client,
                "-d",
                &delay,
                "--",
                &message,
            ];
            async move {
                self.server
                    .run(&args)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e} (client {client})"))
            }
        });
        let errors: Vec<String> = join_all(shows)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}
