//! tmux side of `ocbar open`: put a pane on the user's screen.
//!
//! The pane's window and the pane itself are selected, then the user's most recently active
//! client of that tmux server (`#{client_activity}`) is switched to it (`switch-client -c`).
//! This works when `open` runs outside tmux (a waybar click, a notification action), where
//! tmux has no "current client" to act on.

use crate::daemon::tmux::Server;

/// What [`reveal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revealed {
    /// `session:window.pane`, e.g. `work:1.%3`.
    pub place: String,
    /// The client that now shows it: its name and pid.
    pub client: Option<(String, u32)>,
    /// The pid of that client (where the window manager's window is found).
    pub client_pid: Option<u32>,
}

impl Revealed {
    /// For the reply: "tmux work:1.%3 (client /dev/pts/2)".
    pub fn describe(&self) -> String {
        match &self.client {
            Some((name, _)) => format!("tmux {} (client {name})", self.place),
            None => format!("tmux {} (no client attached)", self.place),
        }
    }
}

/// One attached client, as `list-clients` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub activity: u64,
    pub name: String,
    pub pid: u32,
    pub session: String,
}

/// The format [`parse_clients`] reads.
const CLIENT_FORMAT: &str = "#{client_activity}\t#{client_pid}\t#{client_session}\t#{client_name}";

/// Parse `list-clients -F CLIENT_FORMAT`; the most recently active first.
pub fn parse_clients(text: &str) -> Vec<Client> {
    let mut out: Vec<Client> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, '\t');
            Some(Client {
                activity: f.next()?.trim().parse().ok()?,
                pid: f.next()?.trim().parse().ok()?,
                session: f.next()?.to_string(),
                name: f.next()?.to_string(),
            })
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.activity));
    out
}

/// `tmux -S socket ARGS`.
async fn tmux(socket: &str, args: &[&str]) -> Result<String, String> {
    Server::on(Some(socket)).run(args).await
}

/// The attached clients of `server`, most recently active first (an error when no server
/// answers there).
pub async fn clients(server: &Server) -> Result<Vec<Client>, String> {
    server
        .run(&["list-clients", "-F", CLIENT_FORMAT])
        .await
        .map(|t| parse_clients(&t))
}

/// Select `pane`'s window and the pane, and switch the most recently active client there.
pub async fn reveal(socket: &str, pane: &str) -> Result<Revealed, String> {
    let place = tmux(
        socket,
        &[
            "display-message",
            "-p",
            "-t",
            pane,
            "#{session_name}:#{window_index}.#{pane_id}",
        ],
    )
    .await
    .map_err(|e| format!("pane {pane} on {socket}: {e}"))?;
    let place = place.trim().to_string();
    tmux(socket, &["select-window", "-t", pane]).await?;
    tmux(socket, &["select-pane", "-t", pane]).await?;
    let clients = clients(&Server::on(Some(socket))).await.unwrap_or_default();
    let Some(client) = clients.into_iter().next() else {
        return Ok(Revealed {
            place,
            client: None,
            client_pid: None,
        });
    };
    tmux(socket, &["switch-client", "-c", &client.name, "-t", pane]).await?;
    Ok(Revealed {
        place,
        client_pid: Some(client.pid),
        client: Some((client.name, client.pid)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_read_most_recent_first() {
        let c = parse_clients(
            "1700000000\t4100\twork\t/dev/pts/2\n1700000500\t4200\tmain\t/dev/pts/5\nbad line\n",
        );
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].name.as_str(), c[0].pid), ("/dev/pts/5", 4200));
        assert_eq!(c[1].session, "work");
        assert!(parse_clients("").is_empty());
    }
}
