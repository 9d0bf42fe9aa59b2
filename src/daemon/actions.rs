//! What the socket's actions do to the model: `seen`, `seen-all`, `mute`/`unmute`, `open`.

use super::*;
use crate::model::ResolveError;
use crate::model::event::SessionId;
use crate::model::remote::RemoteSession;
use crate::wire::Action;
use crate::wire::remote::RemoteAction;

/// Where a `<SESSION>` argument points: this machine's model, or a remote machine's daemon.
enum Routed {
    Local(SessionId),
    Remote(RemoteSession),
}

impl StateLoop {
    pub(super) fn command(&mut self, cmd: Command) {
        let reply = cmd.reply;
        match cmd.action.clone() {
            Action::Doctor => {
                let _ = reply.send(Ok(self.doctor()));
            }
            Action::SeenAll if !self.links.is_empty() => self.seen_all_everywhere(reply),
            Action::Seen(query) | Action::Mute(query, _) | Action::Open(query)
                if !self.links.is_empty() =>
            {
                let action = match &cmd.action {
                    Action::Seen(_) => RemoteAction::Seen,
                    Action::Mute(_, true) => RemoteAction::Mute,
                    Action::Mute(_, false) => RemoteAction::Unmute,
                    _ => RemoteAction::Open,
                };
                match self.route(&query) {
                    Ok(Routed::Remote(s)) => self.ask_remote(s, action, reply),
                    Ok(Routed::Local(id)) => {
                        // This machine's session, named by its id: the path without remotes.
                        let id = id.to_string();
                        let action = match cmd.action {
                            Action::Seen(_) => Action::Seen(id),
                            Action::Mute(_, muted) => Action::Mute(id, muted),
                            _ => Action::Open(id),
                        };
                        let links = std::mem::take(&mut self.links);
                        self.command(Command { action, reply });
                        self.links = links;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
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

impl StateLoop {
    /// Which session `query` names, here or on a remote machine: `HOST:QUERY` looks only on
    /// that host; otherwise a full id wins, and a query that matches on two machines is
    /// ambiguous (every match listed, remote ones as `HOST:ID`).
    fn route(&self, query: &str) -> Result<Routed, ResolveError> {
        if let Some((host, rest)) = self.remotes.split_host(query) {
            return match self.remotes.resolve(Some(&host), rest)? {
                Some(s) => Ok(Routed::Remote(s)),
                None => Err(ResolveError::NotFound(query.trim().to_string())),
            };
        }
        let q = query.trim();
        let local = self.state.resolve(q);
        let remote = self.remotes.resolve(None, q);
        match (local, remote) {
            (Ok(id), Ok(None)) => Ok(Routed::Local(id)),
            (Err(ResolveError::NotFound(_)), Ok(Some(s))) => Ok(Routed::Remote(s)),
            (Ok(id), Ok(Some(s))) if &*id == q && &*s.id != q => Ok(Routed::Local(id)),
            (Ok(id), Ok(Some(s))) if &*s.id == q && &*id != q => Ok(Routed::Remote(s)),
            (Ok(id), Ok(Some(s))) => {
                let title = self.state.describe(&id).map_or("", |d| d.0).to_string();
                let mut c = vec![
                    (id.to_string(), title),
                    (format!("{}:{}", s.host, s.id), s.title.to_string()),
                ];
                c.sort();
                Err(ResolveError::Ambiguous(q.to_string(), c))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    /// Send `action` on session `s` to its host's daemon; the reply says where it acted.
    fn ask_remote(
        &self,
        s: RemoteSession,
        action: RemoteAction,
        reply: oneshot::Sender<Result<String, String>>,
    ) {
        let Some(link) = self.links.get(&s.host) else {
            let _ = reply.send(Err(format!("{} is not followed", s.host)));
            return;
        };
        let asked = link.ask(action, Some(s.id.to_string()));
        let host = s.host.clone();
        // `open`: this machine's side too, the terminal that runs `ssh HOST`.
        let tmux_sockets = (action == RemoteAction::Open).then(|| self.tmux_sockets());
        tokio::spawn(async move {
            let answer = asked
                .await
                .map(|text| format!("on {host}: {text}"))
                .map_err(|e| format!("on {host}: {e}"));
            let answer = match (answer, tmux_sockets) {
                (Ok(text), Some(sockets)) => {
                    let here = remote::terminal::show(&host, &sockets).await;
                    Ok(format!("{text}; here: {here}"))
                }
                (answer, _) => answer,
            };
            let _ = reply.send(answer);
        });
    }

    /// The tmux servers this machine knows: where TUIs run, the configured one, `$TMUX`'s.
    fn tmux_sockets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let from_env = std::env::var("TMUX")
            .ok()
            .and_then(|t| t.rsplitn(3, ',').nth(2).map(str::to_string));
        let configured = self.tmux_socket.as_ref().map(|p| p.display().to_string());
        let tuis = self
            .hub
            .views()
            .into_iter()
            .filter_map(|t| t.tmux.map(|(s, _)| s));
        for s in tuis.chain(configured).chain(from_env) {
            if !s.is_empty() && !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// `seen --all` with remote machines: each connected host marks its own, then this one.
    fn seen_all_everywhere(&mut self, reply: oneshot::Sender<Result<String, String>>) {
        let n = self.state.unvisited_count();
        let mut asked = Vec::new();
        for (host, link) in &self.links {
            if self.remotes.unvisited_count(host) > 0 {
                asked.push((host.clone(), link.ask(RemoteAction::SeenAll, None)));
            }
        }
        let after = self.after_tx.clone();
        tokio::spawn(async move {
            let mut text = match n {
                0 => "no unvisited sessions here".to_string(),
                1 => "marked 1 session visited here".to_string(),
                n => format!("marked {n} sessions visited here"),
            };
            for (host, answer) in asked {
                match answer.await {
                    Ok(t) => {
                        let _ = write!(text, "; on {host}: {t}");
                    }
                    Err(e) => {
                        let _ = write!(text, "; on {host}: NOT MARKED: {e}");
                    }
                }
            }
            let event = Event::Seen {
                target: Target::All,
            };
            let _ = after.send(AfterAction { event, reply, text }).await;
        });
    }
}

/// A session's title as a command's reply shows it: one clean line, its id when it has none.
fn shown_title(title: Option<&str>, id: &str) -> String {
    let t: String = crate::text::clean(title.unwrap_or("")).collect();
    if t.is_empty() { id.to_string() } else { t }
}
