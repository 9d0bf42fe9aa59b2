//! i3blocks: wake the user's i3blocks when its ocbar block changes, so the block follows every
//! change without a polling interval.
//!
//! The shipped block (`integrations/i3blocks/ocbar.conf`) runs `ocbar status --format i3blocks`
//! with `interval=once` and `signal=N`: i3blocks runs it at start, on a click, and on
//! `SIGRTMIN+N`. After every change of the i3blocks line, this task sends `SIGRTMIN+N` to every
//! process named `i3blocks` that belongs to the daemon's user (found in `/proc`). Why not a
//! persistent block fed by `ocbar watch`: i3blocks 1.4 (Debian 12) never hands a persistent
//! block its clicks, and a click must open the session.
//!
//! i3blocks ignores a real-time signal no block of its asks for, so an i3blocks without ocbar's
//! block is not disturbed.
//!
//! ```toml
//! [i3blocks]
//! signal = 11    # the block's `signal=`; 0: do not signal i3blocks at all
//! ```

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::daemon::clock::{self, now_ms};
use crate::daemon::config::I3blocksConfig;
use crate::daemon::published::Published;
use crate::log;
use crate::render::{self, RenderConfig};
use crate::wire::Format;

/// At most one round of signals per interval: i3blocks runs the block's command for each.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How long the list of i3blocks processes is trusted before `/proc` is read again (each pid
/// on it is still checked before every signal). An i3blocks started meanwhile runs the block
/// at its start anyway.
pub const RESCAN: Duration = Duration::from_secs(5);

/// Whether the process at `dir` (`/proc/PID`) is an `i3blocks` owned by `uid`.
fn is_i3blocks(dir: &Path, uid: u32) -> bool {
    dir.metadata().is_ok_and(|m| m.uid() == uid)
        && std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim_end() == "i3blocks")
}

/// The pids of processes named `i3blocks` under `proc_root` owned by `uid`.
pub fn find_i3blocks(proc_root: &Path, uid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            is_i3blocks(&e.path(), uid).then_some(pid)
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// `cached` if it is given and every pid on it is still an i3blocks of `uid` (a pid is not
/// signalled after it was reused), else a fresh scan. The bool: whether it scanned.
fn i3blocks_now(proc_root: &Path, uid: u32, cached: Option<Vec<i32>>) -> (Vec<i32>, bool) {
    match cached {
        Some(pids)
            if pids
                .iter()
                .all(|pid| is_i3blocks(&proc_root.join(pid.to_string()), uid)) =>
        {
            (pids, false)
        }
        _ => (find_i3blocks(proc_root, uid), true),
    }
}

/// Send `SIGRTMIN+n` to `pid`.
fn signal(pid: i32, n: u8) -> std::io::Result<()> {
    // SAFETY: kill(2) with a pid read from /proc and a valid real-time signal number.
    let r = unsafe { libc::kill(pid, libc::SIGRTMIN() + libc::c_int::from(n)) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Signal the user's i3blocks after every change of the i3blocks line (and once at start, so a
/// block that ran before the daemon shows the real state). Runs until the daemon stops.
pub async fn signal_on_change(
    mut snapshots: watch::Receiver<Arc<Published>>,
    render: Arc<RenderConfig>,
    cfg: I3blocksConfig,
) {
    if cfg.signal == 0 {
        return;
    }
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut sent: Option<Arc<str>> = None;
    let mut known = Known {
        signal: cfg.signal,
        ..Known::default()
    };
    let mut last_round: Option<Instant> = None;
    // After a round that trusted the cached list: when to scan again for an i3blocks started
    // since, and give it the change it missed.
    let mut recheck_at: Option<Instant> = None;
    loop {
        if let Some(t) = last_round {
            tokio::time::sleep_until(t + MIN_INTERVAL).await;
        }
        if recheck_at.is_some_and(|t| Instant::now() >= t) {
            recheck_at = None;
            let before = known.pids.clone();
            let pids = known.refresh(uid, None).await;
            for &pid in pids.iter().filter(|p| !before.contains(p)) {
                send(pid, cfg.signal);
            }
        }
        let published = snapshots.borrow_and_update().clone();
        let line = published.render(Format::I3blocks, now_ms(), &render);
        if sent.as_ref() != Some(&line) {
            last_round = Some(Instant::now());
            let cached = known
                .scanned_at
                .filter(|t| t.elapsed() < RESCAN)
                .map(|_| known.pids.clone());
            let trusted_cache = cached.is_some();
            for &pid in &known.refresh(uid, cached).await {
                send(pid, cfg.signal);
            }
            if trusted_cache && recheck_at.is_none() {
                recheck_at = known.scanned_at.map(|t| t + RESCAN);
            }
            sent = Some(line);
        }
        // A timer while a retry countdown runs (the line changes every second), and for the
        // recheck.
        let countdown =
            render::time_sensitive(&snapshots.borrow().snapshot).then(clock::after_next_second);
        let wake = match (countdown, recheck_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = clock::sleep_until_or_never(wake) => {}
        }
    }
}

/// The i3blocks processes last found, and when `/proc` was last read for them.
#[derive(Default)]
struct Known {
    /// `N` of `SIGRTMIN+N`, for the log.
    signal: u8,
    pids: Vec<i32>,
    scanned_at: Option<Instant>,
}

impl Known {
    /// The i3blocks to signal now: `cached` when still true, else a fresh scan (logged when the
    /// set changes).
    async fn refresh(&mut self, uid: u32, cached: Option<Vec<i32>>) -> Vec<i32> {
        let (pids, scanned) =
            tokio::task::spawn_blocking(move || i3blocks_now(Path::new("/proc"), uid, cached))
                .await
                .unwrap_or_default();
        if scanned {
            self.scanned_at = Some(Instant::now());
        }
        if pids != self.pids {
            if pids.is_empty() {
                log!("i3blocks: no i3blocks of this user is running now");
            } else {
                log!(
                    "i3blocks: sending SIGRTMIN+{} to i3blocks (pid {}) on every change ('signal={}' in the block)",
                    self.signal,
                    pids.iter()
                        .map(i32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.signal
                );
            }
            self.pids = pids.clone();
        }
        pids
    }
}

/// [`signal`], logging a failure.
fn send(pid: i32, n: u8) {
    if let Err(e) = signal(pid, n) {
        log!("i3blocks: cannot signal pid {pid}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_this_users_i3blocks() {
        let root = tempfile::tempdir().unwrap();
        for (pid, comm) in [("10", "i3blocks\n"), ("11", "bash\n"), ("12", "i3blocks\n")] {
            let d = root.path().join(pid);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("comm"), comm).unwrap();
        }
        std::fs::create_dir(root.path().join("self")).unwrap();
        // SAFETY: getuid(2) cannot fail.
        let me = unsafe { libc::getuid() };
        assert_eq!(find_i3blocks(root.path(), me), vec![10, 12]);
        assert!(find_i3blocks(root.path(), me.wrapping_add(1)).is_empty());
        // A cached list is used while every pid on it is still an i3blocks; else a new scan.
        assert_eq!(
            i3blocks_now(root.path(), me, Some(vec![12])),
            (vec![12], false)
        );
        std::fs::write(root.path().join("12/comm"), "bash\n").unwrap();
        assert_eq!(
            i3blocks_now(root.path(), me, Some(vec![10, 12])),
            (vec![10], true),
            "pid 12 is no i3blocks any more"
        );
    }
}
