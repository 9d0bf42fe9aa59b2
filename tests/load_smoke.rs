//! `ocbar-load` runs end to end against the real daemon and reports sane numbers (a ~3 s run
//! with small numbers; the real measurements are in docs/performance.md).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

#[test]
fn load_tool_reports_sane_numbers() {
    let started = Instant::now();
    let out = Command::new(load_tool())
        .args(["--ocbar", env!("CARGO_BIN_EXE_ocbar")])
        .args([
            "--rate",
            "1000",
            "--sessions",
            "5",
            "--secs",
            "1",
            "--idle-secs",
            "0.3",
        ])
        .args([
            "--probes",
            "4",
            "--quiet-probes",
            "4",
            "--watchers",
            "3",
            "--clients",
            "20",
            "--rounds",
            "2",
        ])
        .args(["--burst", "5000", "--floor-secs", "0.3", "--json"])
        .output()
        .expect("run ocbar-load");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ocbar-load failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let num = |path: &str| -> f64 {
        r.pointer(path)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("{path} missing in {r}"))
    };
    assert_eq!(num("/sessions"), 6.0, "5 streaming + the probe session");
    assert_eq!(num("/memory/tracked_sessions"), 6.0);
    // The stream was sent at about the asked rate, and the daemon used some CPU for it but
    // far from all of it (a debug build: generous bounds).
    assert!(num("/steady/events") >= 500.0, "{r}");
    assert!(num("/steady/cpu_percent_schedstat") > 0.0, "{r}");
    assert!(num("/steady/cpu_percent_schedstat") < 90.0, "{r}");
    // Every probe was seen by the watch subscriber, within a second.
    assert_eq!(num("/latency/probes"), 4.0, "{r}");
    assert_eq!(num("/latency/lost"), 0.0, "{r}");
    assert!(num("/latency/max_ms") < 1000.0, "{r}");
    // And every probe sent after a quiet spell.
    assert_eq!(num("/quiet_latency/probes"), 4.0, "{r}");
    assert_eq!(num("/quiet_latency/lost"), 0.0, "{r}");
    assert!(num("/quiet_latency/max_ms") < 1000.0, "{r}");
    // Every query answered.
    assert_eq!(num("/queries/ok"), 40.0, "{r}");
    assert_eq!(num("/queries/failed"), 0.0, "{r}");
    assert!(num("/queries/p99_ms") < 2000.0, "{r}");
    // The burst went through and the final status change showed.
    assert!(num("/burst/events_per_sec") > 1000.0, "{r}");
    // Both phases ran, so the cost of a steady event against a burst event is there, and the
    // machine's wake-up floor was measured.
    assert!(num("/per_event/steady_us") > 0.0, "{r}");
    assert!(num("/per_event/burst_us") > 0.0, "{r}");
    assert!(num("/per_event/ratio") > 0.0, "{r}");
    // The receive floor (5 s by default) reports its CPU per one-second window.
    let windows = r
        .pointer("/recv_floor/cpu_windows/cpu_percent")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    assert!((4..=5).contains(&windows), "{r}");
    assert!(num("/recv_floor/cpu_windows/min") <= num("/recv_floor/cpu_windows/median"));
    assert!(num("/recv_floor/cpu_windows/median") <= num("/recv_floor/cpu_windows/max"));
    assert!(num("/recv_floor/cpu_windows/max") > 0.0, "{r}");
    assert!(num("/wake_floor/wakes") >= 10.0, "{r}");
    assert!(num("/wake_floor/us_per_wake") > 0.0, "{r}");
    assert!(num("/memory/vm_rss_kb") > 100.0, "{r}");
    assert!(num("/memory/vm_rss_kb") < 200_000.0, "{r}");
    // No reconnect: one event stream for the whole run.
    assert_eq!(num("/event_streams"), 1.0, "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// The `ocbar-load` binary: a member of this workspace (`tools/ocbar-load`), not a binary of the
/// `ocbar` package, so Cargo gives this test no `CARGO_BIN_EXE_` for it. It lives in the same
/// target directory, next to the `ocbar` under test. `cargo nextest run --workspace` (what
/// `scripts/test.sh` runs) has just built it; when this test runs alone it may be missing or
/// older than its sources, and then it is built here, with this test's profile.
fn load_tool() -> PathBuf {
    let ocbar = Path::new(env!("CARGO_BIN_EXE_ocbar"));
    let tool = ocbar.with_file_name("ocbar-load");
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/ocbar-load");
    let built = std::fs::metadata(&tool).and_then(|m| m.modified()).ok();
    let stale = match built {
        None => true,
        Some(built) => newest_mtime(&pkg).is_some_and(|src| src > built),
    };
    if stale {
        let profile_dir = ocbar.parent().expect("profile dir");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(p) => p.to_string(),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "ocbar-load",
                "--bin",
                "ocbar-load",
            ])
            .args(["--profile", &profile])
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("target dir"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p ocbar-load");
        assert!(status.success(), "cargo build -p ocbar-load failed");
    }
    assert!(
        tool.is_file(),
        "{} missing: cargo build --workspace builds it",
        tool.display()
    );
    tool
}

/// The newest modification time of the files under `dir` (the tool's sources and manifest).
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}
