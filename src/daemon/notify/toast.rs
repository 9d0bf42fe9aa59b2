//! The OpenCode TUI toast: `POST {server}/tui/show-toast?directory=<dir>`.
//!
//! Every TUI attached to that server shows it (OpenCode does not target one TUI). A delivery
//! that spans several servers sends each server the part about its own sessions.

use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use super::Credentials;
use super::delivery::Delivery;

#[derive(Serialize)]
struct ToastBody<'a> {
    title: &'a str,
    message: &'a str,
    variant: &'a str,
    duration: u64,
}

/// Delivers a toast to a plain TUI bridged by its plugin (`tui://…` servers, which have no
/// `/tui/show-toast`): `(server, title, message, variant)`.
pub type TuiToastSink =
    std::sync::Arc<dyn Fn(&str, &str, &str, &str) -> Result<(), String> + Send + Sync>;

/// The toast channel.
pub struct Toast {
    client: reqwest::Client,
    auth: Option<Credentials>,
    display_ms: u64,
    tui: Option<TuiToastSink>,
}

impl Toast {
    /// `timeout` bounds each request; `auth` is sent as Basic auth (never logged).
    pub fn new(
        auth: Option<Credentials>,
        timeout: Duration,
        display_ms: u64,
    ) -> Result<Toast, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Toast {
            client,
            auth,
            display_ms: display_ms.max(1),
            tui: None,
        })
    }

    /// Send toasts for `tui://` servers through `sink` (the TUI channel of their plugin).
    pub fn with_tui(mut self, sink: Option<TuiToastSink>) -> Toast {
        self.tui = sink;
        self
    }

    /// Send the delivery's toast(s). Fails when any server refused or could not be reached.
    pub async fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let mut servers: Vec<&str> = Vec::new();
        let mut bridged: Vec<&str> = Vec::new();
        for n in d.items() {
            // Only HTTP servers have /tui/show-toast (not replays or plugin bridges).
            let http = n.server.starts_with("http://") || n.server.starts_with("https://");
            if http && !servers.contains(&&*n.server) {
                servers.push(&n.server);
            }
            if n.server.is_tui() && !bridged.contains(&&*n.server) {
                bridged.push(&n.server);
            }
        }
        let mut bridge_errors = Vec::new();
        if let Some(sink) = &self.tui {
            for server in bridged {
                if let Some(part) = d.subset(|n| &*n.server == server)
                    && let Err(e) = sink(server, "ocbar", &part.text(), part.variant())
                {
                    bridge_errors.push(e);
                }
            }
        }
        let sends = servers.iter().filter_map(|server| {
            let part = d.subset(|n| &*n.server == *server)?;
            Some(async move { self.send(server, &part).await })
        });
        let mut errors: Vec<String> = join_all(sends)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        errors.extend(bridge_errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    async fn send(&self, server: &str, d: &Delivery) -> Result<(), String> {
        let base = server.trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}/tui/show-toast"))
            .map_err(|e| format!("bad server URL {server}: {e}"))?;
        let directory = &d.lead().directory;
        if !directory.is_empty() {
            url.query_pairs_mut().append_pair("directory", directory);
        }
        let text = d.text();
        let body = ToastBody {
            title: "ocbar",
            message: &text,
            variant: d.variant(),
            duration: self.display_ms,
        };
        let mut req = self.client.post(url).json(&body);
        if let Some(auth) = &self.auth {
            req = req.basic_auth(&auth.username, Some(&auth.password));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("toast to {base}: {}", describe(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("toast to {base}: HTTP {status}"));
        }
        Ok(())
    }
}

/// A reqwest error without the URL (it is named by the caller) and with its cause.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    if let Some(s) = source.take() {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
    }
    msg
}
