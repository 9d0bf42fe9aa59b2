//! Helpers shared by the notifier's integration tests (`mod notify_common;`, not a test itself).
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocbar::model::effect::{Notification, NotifyKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A notification as the session model would emit it.
pub fn note(kind: NotifyKind, server: &str, session: &str, title: &str) -> Notification {
    Notification {
        kind,
        server: server.into(),
        session: session.into(),
        directory: "/home/me/proj".into(),
        title: title.into(),
        message: None,
        child: false,
        busy_ms: 60_000,
        host: None,
    }
}

/// Fail (never skip) when a program the code under test runs by name is not on `PATH`. (The
/// test kit's `common::require_tool` also finds `.tools/bin` and returns the path, for programs
/// a test runs itself.)
pub fn require_on_path(tool: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{tool}` (install the test dependencies: scripts/install-test-deps.sh)"
    );
}

/// One request the toast listener received.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub method: String,
    pub target: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

/// A tiny HTTP listener standing in for `POST /tui/show-toast`: records, answers `true`.
pub struct ToastServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl ToastServer {
    pub async fn start() -> ToastServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let rec = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let rec = rec.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, content_length) = loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                            let len = head
                                .lines()
                                .filter_map(|l| l.split_once(':'))
                                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (pos + 4, len);
                        }
                    };
                    while buf.len() < head_end + content_length {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut first = head.lines().next().unwrap_or("").split_whitespace();
                    let method = first.next().unwrap_or("").to_string();
                    let target = first.next().unwrap_or("").to_string();
                    let authorization = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_string());
                    let body = serde_json::from_slice(&buf[head_end..head_end + content_length])
                        .unwrap_or(serde_json::Value::Null);
                    rec.lock().unwrap().push(Request {
                        at: Instant::now(),
                        method,
                        target,
                        authorization,
                        body,
                    });
                    let _ = sock
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\nconnection: close\r\n\r\ntrue")
                        .await;
                });
            }
        });
        ToastServer { url, requests }
    }

    pub fn recorded(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Wait until `n` requests arrived; panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let start = Instant::now();
        loop {
            let got = self.recorded();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "expected {n} toast request(s) within {timeout:?}, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Wait until `path` exists and `ok` accepts its contents; panics after `timeout`.
pub async fn wait_for_file(path: &Path, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && ok(&text)
        {
            return text;
        }
        assert!(
            start.elapsed() < timeout,
            "{} did not get the expected contents within {timeout:?}: {:?}",
            path.display(),
            std::fs::read_to_string(path).ok()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
