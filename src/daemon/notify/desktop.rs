//! Desktop notifications: `org.freedesktop.Notifications.Notify` on the D-Bus session bus.
//!
//! One notification per session, replaced in place: the id `Notify` returned for a session is
//! passed as `replaces_id` next time. A summary has a slot of its own and closes the
//! per-session notifications it supersedes. The "Open" action (`default`/`open`) reports the
//! session through the `on_open` callback.
//!
//! Without a session bus (no address, or the connection fails) the channel is off: logged
//! once, retried at most once a minute, never an error for the other channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use zbus::{Connection, MatchRule, MessageStream, Variant, message::Type as MessageType};

use super::delivery::{Delivery, display_message, sentence};
use super::{OpenCallback, OpenRequest, log};
use crate::server_url::ServerUrl;
use crate::text::one_line;

const DEST: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const IFACE: &str = "org.freedesktop.Notifications";
const APP_NAME: &str = "OpenCode";
/// How long to wait before trying to reach a bus again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Summary and body of the notification for a delivery.
pub fn summary_and_body(d: &Delivery) -> (String, String) {
    let summary = d.headline();
    let body = if d.is_summary() {
        d.items()
            .iter()
            .map(sentence)
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let n = d.lead();
        let mut lines = Vec::new();
        if let Some(m) = display_message(n) {
            lines.push(m);
        }
        let dir = one_line(&n.directory, 200);
        if !dir.is_empty() {
            lines.push(dir);
        }
        lines.join("\n")
    };
    (summary, crate::render::escape::pango(&body))
}

type SessionKey = (ServerUrl, Arc<str>);

/// Which notification shows what; shared with the signal listener.
#[derive(Default)]
struct Ids {
    /// Current notification id per session (a session is its id: it may have moved to
    /// another server since its last notification, which is still replaced).
    by_session: HashMap<Arc<str>, u32>,
    /// The session to open for a notification id (a summary opens its most urgent session).
    by_id: HashMap<u32, SessionKey>,
    /// The current summary notification.
    summary: Option<u32>,
}

impl Ids {
    fn forget_id(&mut self, id: u32) {
        if let Some(key) = self.by_id.remove(&id)
            && self.by_session.get(&key.1) == Some(&id)
        {
            self.by_session.remove(&key.1);
        }
        if self.summary == Some(id) {
            self.summary = None;
        }
    }
}

enum Bus {
    /// Not tried yet, or the connection closed.
    Unknown,
    /// Connected, with the task that listens to the server's signals.
    Up(Connection, tokio::task::JoinHandle<()>),
    /// No bus: off until this time.
    Down(Instant),
    /// No bus address at all: off for good.
    Absent,
}

/// The desktop channel.
pub struct Desktop {
    address: Option<String>,
    bus: Bus,
    ids: Arc<Mutex<Ids>>,
    on_open: Option<OpenCallback>,
    told_down: bool,
    /// Send the `sound-name` hint.
    sound: bool,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Bus::Up(_, listener) = &self.bus {
            listener.abort();
        }
    }
}

fn lock(ids: &Mutex<Ids>) -> std::sync::MutexGuard<'_, Ids> {
    ids.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Desktop {
    /// `address`: the session bus address (`None`: no bus, the channel stays off).
    pub fn new(address: Option<String>, on_open: Option<OpenCallback>) -> Desktop {
        Desktop {
            address,
            bus: Bus::Unknown,
            ids: Arc::default(),
            on_open,
            told_down: false,
            sound: false,
        }
    }

    /// Ask the notification server to play the kind's sound (`sound-name` hint: `complete`,
    /// `dialog-error`, `dialog-warning`, `dialog-question`).
    pub fn with_sound(mut self, on: bool) -> Desktop {
        self.sound = on;
        self
    }

    /// The connection, connecting when needed; `None` when there is no usable bus.
    async fn connection(&mut self) -> Option<Connection> {
        match &self.bus {
            Bus::Up(conn, _) if !conn.is_closed() => return Some(conn.clone()),
            Bus::Up(_, listener) => {
                listener.abort();
                log::info("desktop: the D-Bus session bus connection closed; reconnecting");
            }
            Bus::Absent => return None,
            Bus::Down(until) if Instant::now() < *until => return None,
            Bus::Down(_) | Bus::Unknown => {}
        }
        let Some(address) = self.address.clone() else {
            log::info(
                "desktop notifications off: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)",
            );
            self.bus = Bus::Absent;
            return None;
        };
        match self.connect(&address).await {
            Ok((conn, listener)) => {
                log::debug("desktop: connected to the D-Bus session bus");
                self.told_down = false;
                self.bus = Bus::Up(conn.clone(), listener);
                Some(conn)
            }
            Err(e) => {
                if !self.told_down {
                    log::info(&format!(
                        "desktop notifications off: cannot connect to the D-Bus session bus: {e}"
                    ));
                    self.told_down = true;
                }
                self.bus = Bus::Down(Instant::now() + RETRY_AFTER);
                None
            }
        }
    }

    async fn connect(
        &self,
        address: &str,
    ) -> zbus::Result<(Connection, tokio::task::JoinHandle<()>)> {
        let conn = zbus::connection::Builder::address(address).build().await?;
        // Subscribe before the first Notify so no action is missed.
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(IFACE)
            .path(PATH)
            .build()?;
        let stream = MessageStream::for_match_rule(rule, &conn, None).await?;
        let listener = tokio::spawn(listen(stream, self.ids.clone(), self.on_open.clone()));
        Ok((conn, listener))
    }

    /// Show (or replace) the delivery's notification.
    pub async fn deliver(&mut self, d: &Delivery) -> Result<(), String> {
        let Some(conn) = self.connection().await else {
            return Ok(());
        };
        let (summary, body) = summary_and_body(d);
        let lead: SessionKey = (d.lead().server.clone(), d.lead().session.clone());
        let (replaces, superseded) = {
            let ids = lock(&self.ids);
            if d.is_summary() {
                let superseded: Vec<u32> = d
                    .items()
                    .iter()
                    .filter_map(|n| ids.by_session.get(&n.session).copied())
                    .collect();
                (ids.summary.unwrap_or(0), superseded)
            } else {
                (
                    ids.by_session.get(&lead.1).copied().unwrap_or(0),
                    Vec::new(),
                )
            }
        };
        let mut hints: HashMap<&str, Variant<'_>> = HashMap::new();
        hints.insert("urgency", Variant::U8(d.urgency()));
        if self.sound {
            hints.insert("sound-name", Variant::Str(d.sound_name().into()));
        }
        let actions = vec!["default", "Open", "open", "Open"];
        let args = (
            APP_NAME,
            replaces,
            "",
            summary.as_str(),
            body.as_str(),
            actions,
            hints,
            -1i32,
        );
        let reply = conn
            .call_method(Some(DEST), PATH, Some(IFACE), "Notify", &args)
            .await
            .map_err(|e| format!("desktop Notify: {e}"))?;
        let id: u32 = reply
            .body()
            .deserialize()
            .map_err(|e| format!("desktop Notify reply: {e}"))?;
        {
            let mut ids = lock(&self.ids);
            if replaces != 0 && replaces != id {
                ids.forget_id(replaces);
            }
            ids.by_id.insert(id, lead.clone());
            if d.is_summary() {
                ids.summary = Some(id);
                for old in &superseded {
                    ids.forget_id(*old);
                }
            } else {
                ids.by_session.insert(lead.1, id);
            }
        }
        for old in superseded {
            if let Err(e) = conn
                .call_method(Some(DEST), PATH, Some(IFACE), "CloseNotification", &(old,))
                .await
            {
                log::debug(&format!("desktop CloseNotification {old}: {e}"));
            }
        }
        Ok(())
    }
}

/// Follow `ActionInvoked` and `NotificationClosed` until the connection goes away.
async fn listen(mut stream: MessageStream, ids: Arc<Mutex<Ids>>, on_open: Option<OpenCallback>) {
    while let Some(msg) = stream.next().await {
        let Ok(msg) = msg else { continue };
        let header = msg.header();
        let Some(member) = header.member() else {
            continue;
        };
        match member.as_str() {
            "ActionInvoked" => {
                let Ok((id, action)) = msg.body().deserialize::<(u32, String)>() else {
                    continue;
                };
                if action != "default" && action != "open" {
                    continue;
                }
                let target = lock(&ids).by_id.get(&id).cloned();
                if let (Some((server, session)), Some(cb)) = (target, &on_open) {
                    log::debug(&format!("desktop: open {session} on {server}"));
                    cb(OpenRequest { server, session });
                }
            }
            "NotificationClosed" => {
                if let Ok((id, _reason)) = msg.body().deserialize::<(u32, u32)>() {
                    lock(&ids).forget_id(id);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::effect::{Notification, NotifyKind};

    fn note(kind: NotifyKind, session: &str, title: &str) -> Notification {
        Notification {
            directory: "/home/me/proj".into(),
            ..Notification::sample(kind, session, title)
        }
    }

    #[test]
    fn single_names_the_session_and_escapes_the_body() {
        let n = Notification {
            message: Some("x < y && z".into()),
            ..note(NotifyKind::Error, "s", "fix <b>")
        };
        let (summary, body) = summary_and_body(&Delivery::single(n));
        assert_eq!(summary, "fix <b> failed");
        assert_eq!(body, "x &lt; y &amp;&amp; z\n/home/me/proj");
    }

    #[test]
    fn summary_lists_every_session() {
        let d = Delivery::new(vec![
            note(NotifyKind::Done, "1", "a"),
            note(NotifyKind::Waiting, "2", "b"),
        ])
        .unwrap();
        let (summary, body) = summary_and_body(&d);
        assert_eq!(summary, "2 sessions: 1 waiting, 1 finished");
        assert_eq!(body, "b is waiting for you\na finished");
        assert_eq!(d.urgency(), 2);
    }

    #[test]
    fn forgetting_an_id_keeps_newer_ones() {
        let mut ids = Ids::default();
        let key: SessionKey = ("s".into(), "1".into());
        ids.by_id.insert(5, key.clone());
        ids.by_id.insert(6, key.clone());
        ids.by_session.insert(key.1.clone(), 6);
        ids.forget_id(5);
        assert_eq!(ids.by_session.get(&key.1), Some(&6));
        ids.forget_id(6);
        assert!(ids.by_session.is_empty() && ids.by_id.is_empty());
    }
}
