//! Remote machines (`ocbar daemon --remote HOST`): one ssh link per host to that machine's own
//! ocbar daemon, through `ocbar remote-bridge` there (`wire::remote`).
//!
//! `link.rs` runs the ssh process and its reconnects; `explain.rs` turns what ssh printed into
//! a sentence with the fix; `sanitize.rs` bounds and cleans what a host sends; `terminal.rs`
//! brings on screen the local terminal that runs `ssh HOST` (for `open`). The state loop
//! holds one [`Link`] per host: it hands the link's events to `model::remote` and sends actions
//! (`seen`, `mute`, `open`) through it.

mod explain;
mod link;
pub mod sanitize;
pub mod terminal;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::model::remote::RemoteEvent;
use crate::wire::remote::RemoteAction;

/// How a link reaches its host (`[remote]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The ssh client's argv (`[remote] ssh_command`).
    pub ssh: Vec<String>,
    /// What runs on the far side, before `remote-bridge` (`[remote] ocbar_command`).
    pub ocbar_command: String,
    /// The first wait after a failed or dropped link; doubled each time up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Settings {
    /// From the config file's `[remote]` table.
    pub fn new(config: &crate::daemon::config::RemoteConfig) -> Settings {
        let mut ssh = config.ssh_command.argv();
        if ssh.is_empty() {
            ssh.push("ssh".into());
        }
        let ocbar_command = match config.ocbar_command.trim() {
            "" => "ocbar".to_string(),
            c => c.to_string(),
        };
        Settings {
            ssh,
            ocbar_command,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What `doctor` says of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// The bridge greeted and its daemon's snapshots flow.
    pub connected: bool,
    /// The far ocbar's version, from its greeting.
    pub version: Option<String>,
    /// Why the link is not up, in words a person can act on.
    pub error: Option<String>,
    /// Epoch ms of the next attempt, while waiting to reconnect.
    pub retry_at_ms: Option<i64>,
    /// Links made since the daemon started.
    pub connects: u64,
}

/// An action on a session of the host, with where its answer goes.
struct Ask {
    action: RemoteAction,
    session: Option<String>,
    reply: oneshot::Sender<Result<String, String>>,
}

/// The state loop's handle on one host's link.
pub struct Link {
    asks: mpsc::Sender<Ask>,
    status: Arc<Mutex<LinkStatus>>,
}

/// How long an action waits for the dev box's answer (its `open` runs programs first).
const ASK_TIMEOUT: Duration = Duration::from_secs(15);

impl Link {
    /// Start following `host`: its events go to `events`.
    pub fn spawn(host: Arc<str>, settings: Settings, events: mpsc::Sender<RemoteEvent>) -> Link {
        let (asks, rx) = mpsc::channel(64);
        let status = Arc::new(Mutex::new(LinkStatus::default()));
        tokio::spawn(link::run(host, settings, events, rx, status.clone()));
        Link { asks, status }
    }

    /// What `doctor` shows now.
    pub fn status(&self) -> LinkStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Ask the host's daemon to do `action` on `session`; its answer (or why there is none)
    /// arrives on the returned channel, within [`ASK_TIMEOUT`].
    pub fn ask(
        &self,
        action: RemoteAction,
        session: Option<String>,
    ) -> impl Future<Output = Result<String, String>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.asks.try_send(Ask {
            action,
            session,
            reply,
        });
        async move {
            if sent.is_err() {
                return Err("too many actions are waiting for this host".to_string());
            }
            match tokio::time::timeout(ASK_TIMEOUT, rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err("the link closed before the answer came".to_string()),
                Err(_) => Err(format!("no answer within {} s", ASK_TIMEOUT.as_secs())),
            }
        }
    }
}
