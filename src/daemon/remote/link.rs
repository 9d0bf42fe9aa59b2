//! One host's link: `ssh HOST <ocbar_command> remote-bridge`, read and written line by line,
//! started again with backoff (1 s doubling to 30 s) whenever it ends.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use super::explain::explain;
use super::sanitize::sanitize;
use super::{Ask, LinkStatus, Settings};
use crate::daemon::clock::now_ms;
use crate::log;
use crate::model::remote::RemoteEvent;
use crate::text::one_line;
use crate::wire::remote::{HelloError, MAX_REMOTE_LINE, RemoteHello, RemoteLine, RemoteRequest};

/// How long ssh may take to log in and start the bridge before the attempt is given up.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// ssh's keep-alive: a link that stops answering is dropped after 3 x 5 s, as long as a stale
/// OpenCode server's heartbeat watchdog waits.
const KEEPALIVE: [&str; 4] = [
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    "ConnectTimeout=15",
    "BatchMode=yes",
];

/// Most of ssh's stderr kept for the explanation, in bytes (its last part).
const STDERR_KEEP: usize = 8 * 1024;

/// Follow `host` until the daemon stops: connect, pass snapshots and answers on, reconnect.
pub(super) async fn run(
    host: Arc<str>,
    settings: Settings,
    events: mpsc::Sender<RemoteEvent>,
    mut asks: mpsc::Receiver<Ask>,
    status: Arc<Mutex<LinkStatus>>,
) {
    let mut backoff = settings.backoff_min;
    loop {
        let outcome = session(&host, &settings, &events, &mut asks, &status).await;
        if events
            .send(RemoteEvent::Down { host: host.clone() })
            .await
            .is_err()
        {
            return; // the daemon is stopping
        }
        let (error, was_up) = match outcome {
            Ok(()) => ("the link closed".to_string(), true),
            Err((e, up)) => (e, up),
        };
        if was_up {
            backoff = settings.backoff_min;
        }
        log!(
            "remote {host}: {error}; again in {} s",
            backoff.as_secs_f32()
        );
        if let Ok(mut s) = status.lock() {
            s.connected = false;
            s.error = Some(error.clone());
            s.retry_at_ms = Some(now_ms() + backoff.as_millis() as i64);
        }
        // While waiting, an action is answered at once with why the host is out of reach.
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                ask = asks.recv() => match ask {
                    Some(a) => {
                        let _ = a.reply.send(Err(format!("{host} is not connected: {error}")));
                    }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(settings.backoff_max);
    }
}

/// The ssh command for `host`.
fn command(host: &str, settings: &Settings) -> Command {
    let mut cmd = Command::new(&settings.ssh[0]);
    cmd.args(&settings.ssh[1..]);
    for o in KEEPALIVE {
        cmd.arg("-o").arg(o);
    }
    cmd.arg("-T")
        .arg(host)
        .arg(format!("{} remote-bridge", settings.ocbar_command));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// One link, from starting ssh to its end. `Err((why, was_up))`: `was_up` when snapshots came
/// through (so the next attempt starts from the shortest wait).
async fn session(
    host: &Arc<str>,
    settings: &Settings,
    events: &mpsc::Sender<RemoteEvent>,
    asks: &mut mpsc::Receiver<Ask>,
    status: &Arc<Mutex<LinkStatus>>,
) -> Result<(), (String, bool)> {
    let mut child = command(host, settings).spawn().map_err(|e| {
        (
            format!(
                "cannot run '{}': {e}: install OpenSSH's client, or set [remote] ssh_command",
                settings.ssh[0]
            ),
            false,
        )
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(("ssh started without its pipes".into(), false));
    };
    let said = Arc::new(Mutex::new(String::new()));
    tokio::spawn(keep_stderr(stderr, said.clone()));
    let mut stdin = stdin;
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    // The greeting: the bridge runs, and speaks this protocol.
    let first = tokio::time::timeout(HELLO_TIMEOUT, read_line(&mut reader, &mut line)).await;
    let hello = match first {
        Err(_) => {
            return Err((
                format!(
                    "no answer from {host} within {} s (ssh still logging in?)",
                    HELLO_TIMEOUT.as_secs()
                ),
                false,
            ));
        }
        Ok(Ok(true)) => RemoteHello::parse(&String::from_utf8_lossy(&line)),
        Ok(_) => return Err((failed(host, settings, &mut child, &said).await, false)),
    };
    let hello = match hello {
        Ok(h) => h,
        Err(HelloError::Protocol { protocol, version }) => {
            return Err((
                format!(
                    "{host} runs ocbar {}, which speaks remote protocol {protocol}; this ocbar {} speaks {}: install the same version on both machines",
                    one_line(&version, 40),
                    env!("CARGO_PKG_VERSION"),
                    crate::wire::remote::REMOTE_PROTOCOL
                ),
                false,
            ));
        }
        Err(HelloError::NotBridge) => {
            let printed = one_line(&String::from_utf8_lossy(&line), 120);
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            let stderr = said.lock().map(|s| s.clone()).unwrap_or_default();
            let why = if stderr.trim().is_empty() {
                format!(
                    "'{} remote-bridge' on {host} did not start the ocbar bridge; it printed '{printed}': check [remote] ocbar_command, and that the login prints nothing on stdout",
                    one_line(&settings.ocbar_command, 100)
                )
            } else {
                explain(host, &settings.ocbar_command, &stderr, None)
            };
            return Err((why, false));
        }
    };
    if let Ok(mut s) = status.lock() {
        s.version = Some(one_line(&hello.version, 40));
        s.error = None;
        s.retry_at_ms = None;
        s.connects += 1;
    }
    log!(
        "remote {host}: linked to ocbar {}",
        one_line(&hello.version, 40)
    );
    line.clear();
    let mut pending: HashMap<u64, oneshot::Sender<Result<String, String>>> = HashMap::new();
    let mut next_id = 0u64;
    // A snapshot came through: the link worked, so the next attempt starts from the shortest
    // wait. (A bridge that greets and then fails, its daemon down, keeps backing off.)
    let mut worked = false;
    let end = loop {
        tokio::select! {
            read = read_line(&mut reader, &mut line) => match read {
                Ok(true) => match parse(&mut line) {
                    Ok(RemoteLine::Snapshot(snapshot)) => {
                        let snapshot = sanitize(*snapshot);
                        worked = true;
                        if let Ok(mut s) = status.lock() {
                            s.connected = true;
                        }
                        let ev = RemoteEvent::Snapshot { host: host.clone(), snapshot };
                        if events.send(ev).await.is_err() {
                            break Ok(());
                        }
                    }
                    Ok(RemoteLine::Reply(r)) => {
                        if let Some(tx) = pending.remove(&r.id) {
                            let answer = match (r.ok, r.error) {
                                (_, Some(e)) => Err(one_line(&e, 2000)),
                                (Some(t), None) => Ok(one_line(&t, 2000)),
                                (None, None) => Ok(String::new()),
                            };
                            let _ = tx.send(answer);
                        }
                    }
                    Ok(RemoteLine::Error(e)) => {
                        break Err(format!("the bridge on {host} says: {}", one_line(&e, 300)));
                    }
                    Err(printed) => {
                        break Err(format!(
                            "{host} sent a line that is not the ocbar bridge protocol: '{printed}'"
                        ));
                    }
                },
                Ok(false) => break Err(failed(host, settings, &mut child, &said).await),
                Err(e) => break Err(e),
            },
            ask = asks.recv() => {
                let Some(ask) = ask else { break Ok(()) };
                next_id += 1;
                let request = RemoteRequest { id: next_id, action: ask.action, session: ask.session };
                if let Err(e) = stdin.write_all(request.to_line().as_bytes()).await {
                    let _ = ask.reply.send(Err(format!("cannot write to ssh: {e}")));
                    break Err(format!("cannot write to ssh: {e}"));
                }
                let _ = stdin.flush().await;
                pending.retain(|_, tx| !tx.is_closed());
                pending.insert(next_id, ask.reply);
            }
        }
    };
    for (_, tx) in pending.drain() {
        let _ = tx.send(Err(format!("the link to {host} dropped")));
    }
    end.map_err(|e| (e, worked))
}

/// ssh ended (or closed its output) before or while the bridge ran: why, from its stderr and
/// exit code.
async fn failed(
    host: &str,
    settings: &Settings,
    child: &mut Child,
    said: &Arc<Mutex<String>>,
) -> String {
    let code = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(Ok(status)) => status.code(),
        _ => {
            let _ = child.start_kill();
            None
        }
    };
    // Let the stderr reader take ssh's last words.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stderr = said.lock().map(|s| s.clone()).unwrap_or_default();
    explain(host, &settings.ocbar_command, &stderr, code)
}

/// Read ssh's stderr as it comes, keeping its last [`STDERR_KEEP`] bytes.
async fn keep_stderr(mut stderr: tokio::process::ChildStderr, said: Arc<Mutex<String>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            return;
        }
        if let Ok(mut s) = said.lock() {
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if s.len() > STDERR_KEEP {
                let cut = s.len() - STDERR_KEEP;
                let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                s.drain(..cut);
            }
        }
    }
}

/// One complete line read by [`read_line`], taken out of `line` (left empty for the next):
/// the bridge's line, or what it printed instead (cut and cleaned).
fn parse(line: &mut Vec<u8>) -> Result<RemoteLine, String> {
    let parsed = serde_json::from_slice::<RemoteLine>(line)
        .map_err(|_| one_line(&String::from_utf8_lossy(line), 120));
    line.clear();
    parsed
}

/// Complete the next line in `line` (newline dropped): `Ok(false)` at the end of the stream;
/// an error for a line longer than [`MAX_REMOTE_LINE`]. Cancel-safe (a `select!` branch): what
/// was read of a line stays in `line`, and the caller empties it once the line is used.
async fn read_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
) -> Result<bool, String> {
    let room = MAX_REMOTE_LINE.saturating_sub(line.len()) as u64;
    let mut limited = reader.take(room);
    let n = limited
        .read_until(b'\n', line)
        .await
        .map_err(|e| format!("reading from ssh failed: {e}"))?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        if line.len() >= MAX_REMOTE_LINE {
            return Err(format!(
                "the host sent a line longer than {} MB: dropped the link",
                MAX_REMOTE_LINE / (1024 * 1024)
            ));
        }
        return Ok(false); // a last line without its newline: the stream ended mid-line
    }
    line.pop();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_over_the_limit_drops_the_link_and_holds_no_more_of_it() {
        let mut big = vec![b'x'; MAX_REMOTE_LINE + 10];
        big.push(b'\n');
        let mut reader = BufReader::new(&big[..]);
        let mut line = Vec::new();
        let e = read_line(&mut reader, &mut line).await.unwrap_err();
        assert!(e.contains("longer than 16 MB"), "{e}");
        assert_eq!(line.len(), MAX_REMOTE_LINE);

        let mut reader = BufReader::new(&b"{\"error\":\"x\"}\npartial"[..]);
        let mut line = Vec::new();
        assert_eq!(read_line(&mut reader, &mut line).await, Ok(true));
        assert_eq!(parse(&mut line), Ok(RemoteLine::Error("x".into())));
        assert_eq!(
            read_line(&mut reader, &mut line).await,
            Ok(false),
            "a cut last line is the end"
        );
    }
}
