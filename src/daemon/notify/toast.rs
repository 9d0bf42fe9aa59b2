//! The OpenCode TUI toast: `POST {server}/tui/show-toast?directory=<dir>`.
//!
//! Every TUI attached to that server shows it (OpenCode does not target one TUI). A delivery
//! that spans several servers sends each server the part about its own sessions. Servers
//! without that endpoint (plain TUIs bridged by the plugin, and OpenCode 2, which has no
//! `/tui/*`) get it through the plugin's TUI channel instead.

use std::time::Duration;

use futures_util::future::join_all;

use super::Credentials;
use super::delivery::Delivery;
use crate::daemon::source::{self, Api, ToastVariant};
use crate::server_url::ServerUrl;

/// Delivers a toast to a plain TUI bridged by its plugin (`tui://…` servers, which have no
/// `/tui/show-toast`): `(server, title, message, variant)`.
pub type TuiToastSink =
    std::sync::Arc<dyn Fn(&str, &str, &str, &str) -> Result<(), String> + Send + Sync>;

/// Whether an HTTP server has no `/tui/show-toast` (OpenCode 2).
pub type ServerTest = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The toast channel.
pub struct Toast {
    client: reqwest::Client,
    auth: Option<Credentials>,
    timeout: Duration,
    display_ms: u64,
    tui: Option<TuiToastSink>,
    without_endpoint: Option<ServerTest>,
}

impl Toast {
    /// `timeout` bounds each request; `auth` is sent as Basic auth (never logged).
    pub fn new(
        auth: Option<Credentials>,
        timeout: Duration,
        display_ms: u64,
    ) -> Result<Toast, String> {
        // The daemon's one way of building an HTTP client (no proxy: servers are local).
        let client = source::http_client(timeout).map_err(|e| e.to_string())?;
        Ok(Toast {
            client,
            auth,
            timeout,
            display_ms: display_ms.max(1),
            tui: None,
            without_endpoint: None,
        })
    }

    /// Send toasts for `tui://` servers, and for HTTP servers `without_endpoint` says have no
    /// `/tui/show-toast`, through `sink` (the TUI channels of their plugins).
    pub fn with_tui(
        mut self,
        sink: Option<TuiToastSink>,
        without_endpoint: Option<ServerTest>,
    ) -> Toast {
        self.tui = sink;
        self.without_endpoint = without_endpoint;
        self
    }

    /// Send the delivery's toast(s). Fails when any server refused or could not be reached.
    pub async fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let mut servers: Vec<&str> = Vec::new();
        let mut bridged: Vec<&str> = Vec::new();
        for n in d.items() {
            // Only HTTP servers have /tui/show-toast (not replays or plugin bridges).
            let http = n.server.starts_with("http://") || n.server.starts_with("https://");
            let no_endpoint = self.without_endpoint.as_ref().is_some_and(|f| f(&n.server));
            if http && !no_endpoint && !servers.contains(&&*n.server) {
                servers.push(&n.server);
            }
            if (n.server.is_tui() || (http && no_endpoint)) && !bridged.contains(&&*n.server) {
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
        let api = Api::new(
            ServerUrl::from(server),
            self.client.clone(),
            self.auth.clone(),
            self.timeout,
        )
        .map_err(|e| format!("toast to {server}: {e}"))?;
        let toast = source::Toast {
            title: Some("ocbar".to_string()),
            message: d.text(),
            variant: variant(d.variant()),
            duration_ms: Some(self.display_ms),
        };
        let directory = Some(&*d.lead().directory).filter(|d| !d.is_empty());
        api.show_toast(&toast, directory)
            .await
            .map_err(|e| format!("toast to {server}: {e}"))
    }
}

/// The toast variant for a delivery's variant name.
fn variant(name: &str) -> ToastVariant {
    match name {
        "success" => ToastVariant::Success,
        "warning" => ToastVariant::Warning,
        "error" => ToastVariant::Error,
        _ => ToastVariant::Info,
    }
}
