//! tmux push mode: keep the global user option `@ocbar` of a tmux server set to the tmux line.
//!
//! A status line with `#{@ocbar}` in it then shows every change at once (tmux redraws every
//! attached client when an option changes), with no `#()` job polling the daemon. Polling with
//! `#(ocbar status --format tmux)` keeps working beside it; both show the same line.
//!
//! - Which server: the configured socket (`tmux -S`), else the one `$TMUX` names (tmux reads it
//!   itself), else tmux's default socket. That is the server the daemon was started from when
//!   the TPM plugin starts it.
//! - Coalesced: at most one `tmux set-option` per [`MIN_INTERVAL`] (≤ 10/s); an unchanged line
//!   is never sent again, so an idle daemon runs no tmux at all. (A restarted tmux server starts
//!   without the option: the plugin and `ocbar.conf` seed it from `ocbar status` when tmux
//!   loads them, and the next change sets it anyway.) While a retry countdown is shown the line
//!   is re-rendered each second.
//! - Never blocking: this is its own task; each `tmux` call is bounded by [`TMUX_TIMEOUT`] and
//!   killed after it. A failing tmux (none installed, no server running, a hung one) is logged
//!   once, then retried on a timer backing off from 1 s to [`RETRY_LAST`] (about a minute in
//!   all); after that only changes retry it, as soon as tmux's server socket appears, else at
//!   most once per [`RETRY_LAST`]: a machine without tmux is not polled forever, and a token
//!   stream (many changes a second) does not run `tmux` ten times a second. The recovery is
//!   logged once too.
//! - A tmux notification (the `tmux` channel's default `segment` display) is part of the line
//!   while it is shown: the state loop publishes when it starts and when it ends, and this task
//!   pushes both like any change.
//! - When the daemon shuts down cleanly the option is unset, so a `#{@ocbar}` status line shows
//!   nothing (as `ocbar status` prints nothing while no daemon runs) instead of a stale line.
//!
//! Escaping. The line is the tmux renderer's output: data has every `#` doubled. tmux expands
//! `#{@ocbar}` once and does not expand the option's value again, so `#[fg=…]` styles in it
//! apply when the status line is drawn, `##` is drawn as a literal `#`, and `#(…)` or `#{…}`
//! from a title are never run or expanded (checked against real tmux in `tests/bars_tmux.rs`).
//! On the way there, tmux's command parser treats an argument ending in `;` as a command
//! separator, so a trailing `;` is written `\;` ([`tmux::arg`]).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::daemon::clock::now_ms;
use crate::daemon::config::TmuxConfig;
use crate::daemon::published::Published;
use crate::daemon::tmux::{self, Server as TmuxServer};
use crate::log;
use crate::render::{self, RenderConfig};
use crate::wire::Format;

/// The tmux user option the line is pushed into.
pub const OPTION: &str = "@ocbar";

/// Least time between two pushes (at most ~10 per second).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Longest a `tmux` call may take before it is killed and counted as a failure.
pub const TMUX_TIMEOUT: Duration = tmux::TIMEOUT;

/// First retry delay after a failure; doubles up to [`RETRY_LAST`].
const RETRY_MIN: Duration = Duration::from_secs(1);
/// The last timed retry after a failure (1 + 2 + … + 32 s: about a minute of retries); later
/// ones wait for a change.
const RETRY_LAST: Duration = Duration::from_secs(32);

/// What the segment shows after a failed start (white on red: readable on any bar).
pub const FAILED_START_NOTICE: &str =
    "#[fg=white,bg=red] ocbar: not running, see 'ocbar doctor' #[fg=default,bg=default]";

/// A daemon that failed to start tells the tmux server it was started from (if it was: `$TMUX`
/// set, as the plugin's and `ocbar.conf`'s autostart do): [`FAILED_START_NOTICE`] in
/// [`OPTION`], where the segment would be, instead of a blank (the next daemon's first push
/// replaces it). Not when its stderr is a terminal: run by hand, the error is on screen, and
/// the segment may belong to another daemon. Blocking, bounded by [`TMUX_TIMEOUT`]; failures
/// are ignored (tmux may be gone).
pub fn tell_failed_start() {
    use std::io::IsTerminal as _;
    if std::env::var_os("TMUX").is_none_or(|t| t.is_empty()) || std::io::stderr().is_terminal() {
        return;
    }
    let child = TmuxServer::default()
        .blocking_command()
        .args(["set-option", "-gq", OPTION, &tmux::arg(FAILED_START_NOTICE)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return };
    let deadline = std::time::Instant::now() + TMUX_TIMEOUT;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The tmux server the line is pushed to.
struct Tmux {
    server: TmuxServer,
}

impl Tmux {
    /// Whether the server's socket exists (one `stat`, no process).
    fn socket_exists(&self) -> bool {
        self.server.socket_path().exists()
    }

    /// `tmux set-option -g @ocbar LINE`, bounded by [`TMUX_TIMEOUT`].
    async fn set(&self, line: &str) -> Result<(), String> {
        self.server
            .run(&["set-option", "-g", "--", OPTION, &tmux::arg(line)])
            .await
            .map(|_| ())
    }

    /// `tmux set-option -gu @ocbar`, synchronously and briefly (the daemon is exiting).
    fn unset_blocking(&self) {
        let mut cmd = self.server.blocking_command();
        cmd.args(["set-option", "-gu", OPTION])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let Ok(mut child) = cmd.spawn() else { return };
        let deadline = std::time::Instant::now() + Duration::from_millis(500);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Unsets `@ocbar` when the push task is dropped (the runtime shuts down with the daemon),
/// if a line was ever pushed.
struct ClearOnExit {
    tmux: Arc<Tmux>,
    armed: bool,
}

impl Drop for ClearOnExit {
    fn drop(&mut self) {
        if self.armed {
            self.tmux.unset_blocking();
        }
    }
}

/// A failing tmux: when to try again, and the next delay.
struct Failing {
    /// The next timed retry; `None`: the timed retries are over, changes retry.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// When the last attempt failed.
    since: Instant,
    /// Whether tmux's server socket existed then.
    socket_was_there: bool,
}

impl Failing {
    /// Not before `retry_at` (changes in between wait for it). Once the timed retries are
    /// over, a change retries when the server's socket has appeared since the failure (a tmux
    /// server was started), else at most once per [`RETRY_LAST`]: a token stream changes the
    /// snapshot many times a second, and each retry is a `tmux` process.
    fn may_retry(&self, tmux: &Tmux) -> bool {
        match self.retry_at {
            Some(t) => Instant::now() >= t,
            None => {
                self.since.elapsed() >= RETRY_LAST
                    || (!self.socket_was_there && tmux.socket_exists())
            }
        }
    }
}

/// Keep `@ocbar` of the tmux server set to the tmux line of the newest snapshot.
///
/// Runs until the snapshot channel closes (the daemon stops); spawn it beside the socket server.
/// Returns at once when `cfg.push` is false.
pub async fn tmux_push(
    mut snapshots: watch::Receiver<Arc<Published>>,
    render: Arc<RenderConfig>,
    cfg: TmuxConfig,
) {
    if !cfg.push {
        return;
    }
    let tmux = Arc::new(Tmux {
        server: TmuxServer::on(cfg.socket),
    });
    let mut clear = ClearOnExit {
        tmux: tmux.clone(),
        armed: false,
    };
    // What tmux has, as far as we know (None: unknown, or the last push failed).
    let mut pushed: Option<Arc<str>> = None;
    let mut failing: Option<Failing> = None;
    let mut last_attempt: Option<Instant> = None;
    let mut attempt = true;
    loop {
        if attempt {
            if let Some(t) = last_attempt {
                tokio::time::sleep_until(t + MIN_INTERVAL).await;
            }
            let published = snapshots.borrow_and_update().clone();
            let line = published.render(Format::Tmux, now_ms(), &render);
            if pushed.as_ref() != Some(&line) {
                last_attempt = Some(Instant::now());
                match tmux.set(&line).await {
                    Ok(()) => {
                        if failing.take().is_some() {
                            log!(
                                "tmux push: {} reached again: {OPTION} is set",
                                tmux.server.describe()
                            );
                        } else if !clear.armed {
                            log!(
                                "tmux push: {OPTION} is set on {} ('#{{{OPTION}}}' in status-left/right shows it)",
                                tmux.server.describe()
                            );
                        }
                        clear.armed = true;
                        pushed = Some(line);
                    }
                    Err(e) => {
                        pushed = None;
                        failing = Some(match failing {
                            None => {
                                log!(
                                    "tmux push: cannot set {OPTION} on {}: {e}; retrying for a minute, then on changes (at once when a tmux server appears, else at most every 32 s)",
                                    tmux.server.describe()
                                );
                                Failing {
                                    retry_at: Some(Instant::now() + RETRY_MIN),
                                    backoff: RETRY_MIN * 2,
                                    since: Instant::now(),
                                    socket_was_there: tmux.socket_exists(),
                                }
                            }
                            Some(f) => Failing {
                                retry_at: (f.backoff <= RETRY_LAST)
                                    .then(|| Instant::now() + f.backoff),
                                backoff: f.backoff * 2,
                                since: Instant::now(),
                                socket_was_there: tmux.socket_exists(),
                            },
                        });
                    }
                }
            }
        }
        // A timer only for a timed retry or a running countdown: none while idle.
        let wake = match &failing {
            Some(f) => f.retry_at,
            None if render::time_sensitive(&snapshots.borrow().snapshot) => {
                // Just after the next whole second, when the countdown text changes.
                let into = now_ms().rem_euclid(1000) as u64;
                Some(Instant::now() + Duration::from_millis(1000 - into + 20))
            }
            None => None,
        };
        let timer = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return; // the daemon is stopping; `clear` unsets the option
                }
                attempt = failing.as_ref().is_none_or(|f| f.may_retry(&tmux));
            }
            _ = timer => attempt = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_to_push_on() {
        let c: TmuxConfig = toml::from_str("").unwrap();
        assert_eq!(c, TmuxConfig::default());
        assert!(c.push && c.socket.is_none());
        let c: TmuxConfig = toml::from_str("push = false\nsocket = \"/t/s\"").unwrap();
        assert!(!c.push);
        assert_eq!(c.socket, Some(std::path::PathBuf::from("/t/s")));
        assert!(toml::from_str::<TmuxConfig>("pus = true").is_err());
    }
}
