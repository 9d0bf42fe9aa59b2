//! What the socket's actions do to the model: `seen`, `seen-all`, `mute`/`unmute`, `open`.

use super::*;
use crate::wire::Action;

impl StateLoop {
    pub(super) fn command(&mut self, cmd: Command) {
        let reply = cmd.reply;
        match cmd.action {
            Action::Doctor => {
                let _ = reply.send(Ok(self.doctor()));
            }
            Action::SeenAll => {
                let n = self.state.unvisited_count();
                self.apply(Event::Seen {
                    target: Target::All,
                });
                let text = match n {
                    0 => "no unvisited sessions: nothing to mark".to_string(),
                    1 => "marked 1 session visited".to_string(),
                    n => format!("marked {n} sessions visited"),
                };
                self.durable_replies.push((reply, Ok(text)));
            }
            Action::Seen(query) => match self.state.resolve(&query) {
                Ok(session) => {
                    let described = self.state.describe(&session);
                    let title = shown_title(described.map(|d| d.0), &session);
                    let text = match described {
                        Some((_, _, false)) => format!("'{title}' was already visited"),
                        _ => format!("marked '{title}' visited"),
                    };
                    self.apply(Event::Seen {
                        target: Target::One { session },
                    });
                    self.durable_replies.push((reply, Ok(text)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
            Action::Mute(query, muted) => match self.state.resolve(&query) {
                Ok(session) => {
                    let described = self.state.describe(&session);
                    let title = shown_title(described.map(|d| d.0), &session);
                    let was = described.map_or(!muted, |d| d.1);
                    let text = match (muted, was == muted) {
                        (true, false) => format!("muted '{title}': no notifications for it"),
                        (true, true) => format!("'{title}' was already muted"),
                        (false, false) => format!("unmuted '{title}': it notifies again"),
                        (false, true) => format!("'{title}' was not muted"),
                    };
                    self.apply(Event::Mute {
                        target: Target::One { session },
                        muted,
                    });
                    self.durable_replies.push((reply, Ok(text)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
            Action::Open(query) => match self.state.resolve(&query) {
                Ok(session) => self.open(session, reply),
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            },
        }
    }

    /// `ocbar open` (and every click that means it): choose one TUI, switch it, bring it on
    /// screen, or start one (src/daemon/jump/). The I/O runs outside the loop; the session is marked
    /// visited when something shows it.
    pub(super) fn open(
        &mut self,
        session: crate::model::event::SessionId,
        reply: oneshot::Sender<Result<String, String>>,
    ) {
        let Some(place) = self.state.place(&session) else {
            let _ = reply.send(Err(format!("no session {session}")));
            return;
        };
        // Its own server when reachable; else (gone) any connected one: every server and TUI
        // of the user shares the sessions. With none, the place it was last seen (open may
        // still start a TUI there, or say why not).
        let server = self
            .open_through(&place)
            .unwrap_or_else(|| place.server.clone());
        let directory = place.directory.to_string();
        let tuis = self.hub.views();
        let tui = jump::choose(&tuis, &server, &session).cloned();
        let mut tmux_sockets: Vec<String> = Vec::new();
        for t in &tuis {
            if let Some((s, _)) = &t.tmux
                && !tmux_sockets.contains(s)
            {
                tmux_sockets.push(s.clone());
            }
        }
        let select: Option<jump::SelectSession> = if tui.is_none() {
            self.sources
                .get(&server)
                .and_then(|h| h.api())
                // OpenCode 2 has no `/tui/select-session`: only a TUI's plugin can switch it.
                .filter(|api| api.protocol() == source::Protocol::V1)
                .cloned()
                .map(|api| {
                    let (id, dir) = (session.to_string(), directory.clone());
                    Box::pin(async move {
                        let dir = (!dir.is_empty()).then_some(dir);
                        api.select_session(&id, dir.as_deref())
                            .await
                            .map_err(|e| e.to_string())
                    }) as jump::SelectSession
                })
        } else {
            None
        };
        let req = jump::Request {
            server: server.to_string(),
            session: session.to_string(),
            directory,
            tui,
            tmux_sockets,
            config: self.open_config.clone(),
            tmux_socket: self.tmux_socket.clone(),
        };
        let hub = self.hub.clone();
        let after = self.after_tx.clone();
        tokio::spawn(async move {
            match jump::run(req, hub, select).await {
                Ok(text) => {
                    log!("open: {text}");
                    let event = Event::Seen {
                        target: Target::One { session },
                    };
                    let _ = after.send(AfterAction { event, reply, text }).await;
                }
                Err(e) => {
                    log!("open {session}: {e}");
                    let _ = reply.send(Err(e));
                }
            }
        });
    }

    /// Where `open` goes for a session at `place`: its own server when reachable; else (its
    /// server is gone) any connected TUI, since every server of the user shares the sessions:
    /// a bridged plain TUI first (certainly a TUI), then a connected HTTP server.
    pub(super) fn open_through(&self, place: &crate::model::Place) -> Option<ServerUrl> {
        if place.reachable {
            return Some(place.server.clone());
        }
        let snap = self.state.snapshot();
        let connected = || snap.servers.iter().filter(|s| s.connected);
        connected()
            .find(|s| s.url.is_tui() && self.hub.bridges(&s.url))
            .or_else(|| connected().find(|s| self.sources.contains_key(&s.url)))
            .map(|s| s.url.clone())
    }
}

/// A session's title as a command's reply shows it: one clean line, its id when it has none.
fn shown_title(title: Option<&str>, id: &str) -> String {
    let t: String = crate::text::clean(title.unwrap_or("")).collect();
    if t.is_empty() { id.to_string() } else { t }
}
