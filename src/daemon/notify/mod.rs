//! Notification channels: OpenCode TUI toast, desktop (D-Bus), tmux, a user command.
//!
//! The session model decides *when* a notification is due (`Effect::Notify`); this module
//! decides *whether* and *how*: it filters by the `[notify]` config, coalesces notifications
//! that arrive within `summary_window_ms` into one summary, and fans each delivery out to the
//! channels. Every channel runs in its own task with its own small queue and every call is
//! bounded by `timeout_ms`, so a channel that fails or hangs is logged and skipped without
//! delaying the others, and nothing here ever blocks the state loop (it only does an unbounded,
//! non-blocking `send`).
//!
//! ```no_run
//! # async fn demo(events: tokio::sync::mpsc::UnboundedSender<ocbar::daemon::notify::OpenRequest>) {
//! use ocbar::daemon::notify::{Notifier, NotifyConfig};
//! let (tx, _task) = Notifier::new(NotifyConfig::default())
//!     .on_open(move |req| {
//!         let _ = events.send(req); // the daemon does what `ocbar open <session>` does
//!     })
//!     .spawn();
//! // In the state loop, for each `Effect::Notify(n)`:  let _ = tx.send(n);
//! # }
//! ```

pub mod command;
pub mod config;
pub mod delivery;
pub mod desktop;
mod log;
pub mod opencode;
pub mod tmux;
pub mod toast;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::{CommandSpec, NotifyConfig, TmuxDisplay};
pub use delivery::Delivery;

use crate::daemon::source::Credentials;
use crate::model::effect::Notification;
use crate::model::event::SessionId;
use crate::server_url::ServerUrl;

/// Deliveries a channel may have queued before new ones are dropped (it is stuck).
const CHANNEL_QUEUE: usize = 16;

/// What the channels take from the environment, gathered once so tests can supply their own.
#[derive(Debug, Clone, Default)]
pub struct NotifyEnv {
    /// D-Bus session bus address; `None`: no bus, the desktop channel is off.
    pub dbus_address: Option<String>,
    /// Credentials for the toast request.
    pub auth: Option<Credentials>,
}

impl NotifyEnv {
    /// `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus` when that socket exists; and
    /// `Credentials::from_env()`.
    pub fn from_process() -> NotifyEnv {
        let dbus_address = std::env::var("DBUS_SESSION_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| {
                let path = crate::paths::runtime_dir()?.join("bus");
                path.exists()
                    .then(|| format!("unix:path={}", dbus_escape(&path.to_string_lossy())))
            });
        NotifyEnv {
            dbus_address,
            auth: Credentials::from_env(),
        }
    }
}

/// Escape a value for a D-Bus address (`%XX` for anything but the optionally-escaped set).
fn dbus_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_/.\\*".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The user clicked "Open" on a desktop notification: do what `ocbar open <session>` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    pub server: ServerUrl,
    pub session: SessionId,
}

/// Called from the desktop channel's signal task: must not block (send it to a channel).
pub type OpenCallback = Arc<dyn Fn(OpenRequest) + Send + Sync>;

/// Whether a notification is left to OpenCode's own (see [`opencode`]): its TUI then shows a
/// desktop notification and plays a sound, so ocbar's desktop channel and sound command skip it.
pub type LeaveToOpenCode = Arc<dyn Fn(&Notification) -> bool + Send + Sync>;
/// Where the tmux channel's notices go in `segment` mode (the daemon shows them in its tmux
/// segment): must not block (send it to a channel).
pub type NoticeSink = Arc<dyn Fn(tmux::Notice) + Send + Sync>;

/// One channel, owned by its worker task.
enum Channel {
    Toast(toast::Toast),
    Desktop(Box<desktop::Desktop>, Option<LeaveToOpenCode>),
    Tmux(tmux::Tmux),
    Command(command::UserCommand),
    /// `sound_command`: the same runner, its own queue (a slow player delays no other channel).
    Sound(command::UserCommand, Option<LeaveToOpenCode>),
}

impl Channel {
    fn name(&self) -> &'static str {
        match self {
            Channel::Toast(_) => "toast",
            Channel::Desktop(..) => "desktop",
            Channel::Tmux(_) => "tmux",
            Channel::Command(_) => "command",
            Channel::Sound(..) => "sound command",
        }
    }

    async fn deliver(&mut self, d: &Delivery) -> Result<(), String> {
        match self {
            Channel::Toast(c) => c.deliver(d).await,
            Channel::Desktop(c, leave) => {
                match not_left_to_opencode(d, leave.as_ref(), "desktop") {
                    Some(rest) => c.deliver(&rest).await,
                    None => Ok(()),
                }
            }
            Channel::Sound(c, leave) => match not_left_to_opencode(d, leave.as_ref(), "sound") {
                Some(rest) => c.deliver(&rest).await,
                None => Ok(()),
            },
            Channel::Tmux(c) => c.deliver(d).await,
            Channel::Command(c) => c.deliver(d).await,
        }
    }
}

/// The part of `d` that OpenCode does not notify by itself (all of it without `leave`);
/// `None` when nothing is left for `channel`.
fn not_left_to_opencode(
    d: &Delivery,
    leave: Option<&LeaveToOpenCode>,
    channel: &str,
) -> Option<Delivery> {
    let Some(leave) = leave else {
        return Some(d.clone());
    };
    let kept: Vec<Notification> = d.items().iter().filter(|n| !leave(n)).cloned().collect();
    if kept.len() < d.items().len() {
        log::debug(&format!(
            "{channel}: {} left to OpenCode's own notification",
            d.items().len() - kept.len()
        ));
    }
    Delivery::new(kept)
}

/// Deliver one after the other, each bounded by `timeout`; failures are logged and skipped.
async fn worker(mut channel: Channel, mut rx: mpsc::Receiver<Arc<Delivery>>, timeout: Duration) {
    let name = channel.name();
    while let Some(d) = rx.recv().await {
        match tokio::time::timeout(timeout, channel.deliver(&d)).await {
            Ok(Ok(())) => log::debug(&format!("{name}: sent \"{}\"", d.text())),
            Ok(Err(e)) => log::info(&format!("{name} failed: {e}")),
            Err(_) => log::info(&format!(
                "{name} timed out after {} ms; skipped",
                timeout.as_millis()
            )),
        }
    }
}

/// Filters, coalesces and fans out notifications. Build it, then `spawn` or `run` it.
pub struct Notifier {
    config: NotifyConfig,
    env: NotifyEnv,
    on_open: Option<OpenCallback>,
    tui_toasts: Option<toast::TuiToastSink>,
    without_tui_endpoint: Option<toast::ServerTest>,
    leave_to_opencode: Option<LeaveToOpenCode>,
    notices: Option<NoticeSink>,
}

impl Notifier {
    /// A notifier with the environment of this process (`NotifyEnv::from_process`).
    pub fn new(config: NotifyConfig) -> Notifier {
        Notifier {
            config,
            env: NotifyEnv::from_process(),
            on_open: None,
            tui_toasts: None,
            without_tui_endpoint: None,
            leave_to_opencode: None,
            notices: None,
        }
    }

    /// Use this environment instead of the process's.
    pub fn with_env(mut self, env: NotifyEnv) -> Notifier {
        self.env = env;
        self
    }

    /// Called when the user clicks "Open" on a desktop notification.
    pub fn on_open(mut self, f: impl Fn(OpenRequest) + Send + Sync + 'static) -> Notifier {
        self.on_open = Some(Arc::new(f));
        self
    }

    /// How toasts reach plain TUIs bridged by the ocbar plugin (`tui://` servers): `f(server,
    /// title, message, variant)`, see [`crate::daemon::tui::Hub::toast`].
    pub fn tui_toasts(
        mut self,
        f: impl Fn(&str, &str, &str, &str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Notifier {
        self.tui_toasts = Some(Arc::new(f));
        self
    }

    /// HTTP servers without `/tui/show-toast` (OpenCode 2): their toasts go through the TUI
    /// channel sink ([`Notifier::tui_toasts`]) to the TUIs attached to them.
    pub fn without_tui_endpoint(
        mut self,
        f: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Notifier {
        self.without_tui_endpoint = Some(Arc::new(f));
        self
    }

    /// Notifications OpenCode's TUI notifies by itself (see [`opencode`]): the desktop channel
    /// and the sound command skip them (OpenCode shows one and plays a sound); the toast, tmux
    /// and command channels are unaffected.
    pub fn leave_to_opencode(
        mut self,
        f: impl Fn(&Notification) -> bool + Send + Sync + 'static,
    ) -> Notifier {
        self.leave_to_opencode = Some(Arc::new(f));
        self
    }

    /// Where the tmux channel sends its notices in `segment` mode (the daemon: into its tmux
    /// segment). Without it, `segment` mode shows nothing and says so in the log.
    pub fn tmux_notices(mut self, f: impl Fn(tmux::Notice) + Send + Sync + 'static) -> Notifier {
        self.notices = Some(Arc::new(f));
        self
    }

    /// `on_open` into a channel: the receiver gets every "Open" click.
    pub fn open_channel(self) -> (Notifier, mpsc::UnboundedReceiver<OpenRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let n = self.on_open(move |req| {
            let _ = tx.send(req);
        });
        (n, rx)
    }

    /// Run on the current tokio runtime. Returns the sender the state loop feeds (`send` never
    /// blocks) and the task, which ends once every sender is dropped and the queues are drained.
    pub fn spawn(self) -> (mpsc::UnboundedSender<Notification>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(self.run(rx));
        (tx, task)
    }

    fn channels(&self) -> Vec<Channel> {
        let c = &self.config;
        let timeout = Duration::from_millis(c.timeout_ms.max(1));
        let mut out = Vec::new();
        if !c.enabled {
            return out;
        }
        if c.toast {
            match toast::Toast::new(self.env.auth.clone(), timeout, c.display_ms) {
                Ok(t) => out.push(Channel::Toast(
                    t.with_tui(self.tui_toasts.clone(), self.without_tui_endpoint.clone()),
                )),
                Err(e) => log::info(&format!("toast off: {e}")),
            }
        }
        if c.desktop {
            let d = desktop::Desktop::new(self.env.dbus_address.clone(), self.on_open.clone())
                .with_sound(c.sound);
            out.push(Channel::Desktop(
                Box::new(d),
                self.leave_to_opencode.clone(),
            ));
        }
        if c.tmux {
            out.push(Channel::Tmux(tmux::Tmux::new(
                c.tmux_socket.clone(),
                c.display_ms,
                c.tmux_display,
                self.notices.clone(),
            )));
        }
        if let Some(cmd) = c
            .command
            .as_ref()
            .and_then(CommandSpec::argv)
            .and_then(command::UserCommand::new)
        {
            out.push(Channel::Command(cmd));
        }
        if let Some(cmd) = c.sound_argv().and_then(command::UserCommand::new) {
            out.push(Channel::Sound(cmd, self.leave_to_opencode.clone()));
        }
        out
    }

    /// Consume notifications until every sender is dropped, then flush and drain the channels.
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Notification>) {
        let timeout = Duration::from_millis(self.config.timeout_ms.max(1));
        let mut queues = Vec::new();
        let mut tasks = Vec::new();
        for channel in self.channels() {
            let (tx, crx) = mpsc::channel(CHANNEL_QUEUE);
            log::debug(&format!("{} on", channel.name()));
            queues.push((channel.name(), tx));
            tasks.push(tokio::spawn(worker(channel, crx, timeout)));
        }
        let fan_out = |batch: &mut Vec<Notification>| {
            let Some(d) = Delivery::new(std::mem::take(batch)) else {
                return;
            };
            let d = Arc::new(d);
            for (name, q) in &queues {
                if q.try_send(d.clone()).is_err() {
                    log::info(&format!("{name} is stuck; dropped \"{}\"", d.text()));
                }
            }
        };
        let window = Duration::from_millis(self.config.summary_window_ms);
        let mut batch: Vec<Notification> = Vec::new();
        let mut deadline: Option<Instant> = None;
        loop {
            tokio::select! {
                n = rx.recv() => {
                    let Some(n) = n else { break };
                    if !self.config.wants(&n) {
                        log::debug(&format!("filtered out: {} {}", n.kind.as_str(), n.session));
                        continue;
                    }
                    batch.push(n);
                    if window.is_zero() {
                        fan_out(&mut batch);
                    } else if deadline.is_none() {
                        deadline = Some(Instant::now() + window);
                    }
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    deadline = None;
                    fan_out(&mut batch);
                }
            }
        }
        fan_out(&mut batch);
        drop(queues);
        for t in tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "opencode".into(),
            password: "s3cret".into(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret") && shown.contains("opencode"));
    }

    #[test]
    fn what_opencode_notifies_is_left_out_of_desktop_and_sound() {
        use crate::model::effect::NotifyKind;
        let note = |kind, session: &str| Notification::sample(kind, session, session);
        let d = Delivery::new(vec![
            note(NotifyKind::Done, "a"),
            note(NotifyKind::Retry, "b"),
        ])
        .expect("two items");
        let leave: LeaveToOpenCode = Arc::new(|n: &Notification| n.kind == NotifyKind::Done);
        let rest = not_left_to_opencode(&d, Some(&leave), "sound").expect("the retry stays");
        assert_eq!(rest.items().len(), 1);
        assert_eq!(&*rest.items()[0].session, "b");
        assert_eq!(not_left_to_opencode(&d, None, "sound"), Some(d.clone()));
        let only_done = Delivery::single(note(NotifyKind::Done, "a"));
        assert_eq!(
            not_left_to_opencode(&only_done, Some(&leave), "desktop"),
            None
        );
    }

    #[test]
    fn dbus_addresses_are_escaped() {
        assert_eq!(dbus_escape("/run/user/1000/bus"), "/run/user/1000/bus");
        assert_eq!(dbus_escape("/tmp/a b;c"), "/tmp/a%20b%3bc");
    }
}
