//! The state file: finished sessions with their unvisited marks, running ones, and mutes on
//! disk, so a restart (or `kill -9`) loses nothing. An older version is read and migrated
//! (the next save writes the current one).
//!
//! Written atomically (temp file, fsync, rename, fsync of the directory) by one writer task,
//! newest state wins. A corrupt or truncated file is reported, set aside and replaced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::log;
use crate::model::persist::{PERSIST_VERSION, Persisted};

/// Read the state file. Missing: empty. Unreadable as ours: set aside (renamed with a
/// `.corrupt-<epoch>` suffix), logged, and empty.
pub fn load(path: &Path) -> Persisted {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Persisted::default(),
        Err(e) => {
            log!(
                "cannot read the state file {}: {e}; starting without saved marks",
                path.display()
            );
            return Persisted::default();
        }
    };
    let problem = match serde_json::from_slice::<Persisted>(&bytes) {
        Ok(p) if p.version == PERSIST_VERSION => return p,
        Ok(p) if p.version == 1 => {
            log!(
                "the state file {} has schema version 1: migrated to version {PERSIST_VERSION} (one entry per session)",
                path.display()
            );
            return p.migrated();
        }
        Ok(p) => format!(
            "it has schema version {}, this ocbar writes {PERSIST_VERSION}",
            p.version
        ),
        Err(e) => format!("it is not valid ({e})"),
    };
    let aside = path.with_extension(format!("json.corrupt-{}", chrono::Utc::now().timestamp()));
    match std::fs::rename(path, &aside) {
        Ok(()) => log!(
            "the state file {} could not be used: {problem}. Set aside as {}; unvisited marks and mutes start fresh",
            path.display(),
            aside.display()
        ),
        Err(e) => log!(
            "the state file {} could not be used: {problem}, and setting it aside failed: {e}",
            path.display()
        ),
    }
    Persisted::default()
}

/// Write atomically and durably (`atomic_file`: temp file, fsync, rename, fsync of the
/// directory), readable by this user only.
pub fn save(path: &Path, state: &Persisted) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut body = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    body.push(b'\n');
    crate::atomic_file::write(path, &body, crate::atomic_file::Mode::Private)
}

/// Where the state loop leaves the state for the writer task: the newest state not yet taken,
/// with a number that grows with every change, so that a caller can wait until its change is
/// on disk (see [`writer`]).
///
/// The writer takes the state out, so no copy of the remembered sessions is kept between
/// saves (with 1,000 sessions a copy is ~0.5 MB, more than the model's own strings); the state
/// loop tells a change by a hash (`State::persisted_fingerprint`).
#[derive(Default)]
pub struct SaveSlot {
    newest: std::sync::Mutex<Option<(u64, Persisted)>>,
    wake: Notify,
}

impl SaveSlot {
    /// Hand `state` to the writer as number `seq` (an older state not yet taken is dropped:
    /// newest wins).
    pub fn put(&self, seq: u64, state: Persisted) {
        let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        *newest = Some((seq, state));
        drop(newest);
        self.wake.notify_one();
    }

    /// Take the newest state, if one is waiting.
    fn take(&self) -> Option<(u64, Persisted)> {
        self.newest.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The writer task: saves every state put in `slot` (newest wins), off the async threads, and
/// reports the number of each save it finished in `saved` (also after a failed save, which it
/// logs: nobody should wait for a disk that cannot be written).
pub async fn writer(path: PathBuf, slot: Arc<SaveSlot>, saved: watch::Sender<u64>) {
    let mut failing = false;
    loop {
        slot.wake.notified().await;
        let Some((seq, state)) = slot.take() else {
            continue;
        };
        let p = path.clone();
        let result = tokio::task::spawn_blocking(move || save(&p, &state)).await;
        match result {
            Ok(Ok(())) => {
                if failing {
                    log!("the state file {} is written again", path.display());
                }
                failing = false;
            }
            Ok(Err(e)) => {
                if !failing {
                    log!(
                        "cannot write the state file {}: {e}; marks and mutes will not survive a restart until this is fixed",
                        path.display()
                    );
                }
                failing = true;
            }
            Err(e) => log!("the state writer failed: {e}"),
        }
        saved.send_replace(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::persist::PersistedSession;

    fn sample() -> Persisted {
        Persisted {
            version: PERSIST_VERSION,
            sessions: vec![PersistedSession {
                server: "http://127.0.0.1:4096".into(),
                id: "ses_a".into(),
                directory: "/p".into(),
                title: "alpha".into(),
                parent_id: None,
                model: None,
                agent: None,
                finished: Some("done".into()),
                message: None,
                unvisited: true,
                muted: false,
                last_activity_ms: 5,
                visited_ms: None,
                active: false,
            }],
        }
    }

    #[test]
    fn a_version_1_file_loads_migrated_to_one_entry_per_session() {
        // What ocbar wrote before sessions were their id: the same id once per server.
        let v1 = r#"{"version":1,"sessions":[
 {"server":"http://127.0.0.1:4096","id":"ses_a","directory":"/p","title":"alpha","parent_id":null,
  "model":null,"agent":null,"finished":"done","message":null,"unvisited":true,"muted":false,
  "last_activity_ms":5},
 {"server":"http://127.0.0.1:4097","id":"ses_a","directory":"/p","title":"alpha","parent_id":null,
  "model":null,"agent":null,"finished":"error","message":"boom","unvisited":true,"muted":true,
  "last_activity_ms":9},
 {"server":"tui://7","id":"ses_b","directory":"/q","title":"beta","parent_id":null,
  "model":null,"agent":null,"finished":null,"message":null,"unvisited":false,"muted":true,
  "last_activity_ms":3}]}"#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, v1).unwrap();
        let p = load(&path);
        assert_eq!(p.version, PERSIST_VERSION);
        assert!(path.exists(), "a version 1 file is used, not set aside");
        let ids: Vec<&str> = p.sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["ses_a", "ses_b"]);
        let a = &p.sessions[0];
        assert_eq!(
            (a.server.as_str(), a.finished.as_deref(), a.muted),
            ("http://127.0.0.1:4097", Some("error"), true),
            "the latest entry wins, its mute is kept"
        );
        // Restored, it is one finished unvisited session, listed once.
        let mut state = crate::model::State::new(crate::model::ModelConfig::default());
        state.restore(p);
        let snap = state.snapshot();
        assert_eq!(snap.sessions.len(), 1);
        assert_eq!(
            snap.sessions[0].state,
            crate::wire::snapshot::SessionState::Error
        );
        assert!(snap.sessions[0].unvisited && !snap.sessions[0].reachable);
        assert_eq!(snap.counts.unvisited, 1);
        // And saved again as version 2.
        save(&path, &state.persisted()).unwrap();
        assert_eq!(load(&path).version, 2);
    }

    /// Two states handed over before the writer runs: the newer is saved, its number reported,
    /// and the slot holds no copy afterwards.
    #[tokio::test]
    async fn the_writer_saves_the_newest_state_and_keeps_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let slot = Arc::new(SaveSlot::default());
        slot.put(1, Persisted::default());
        slot.put(2, sample());
        let (saved_tx, mut saved) = watch::channel(0);
        tokio::spawn(writer(path.clone(), slot.clone(), saved_tx));
        let waited = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            saved.wait_for(|seq| *seq >= 2),
        )
        .await;
        assert!(matches!(waited, Ok(Ok(_))), "the save was never reported");
        assert_eq!(load(&path), sample());
        assert!(slot.take().is_none(), "the slot still holds the state");
    }

    #[test]
    fn round_trip_and_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ocbar/state.json");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path), sample());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&dir.path().join("none.json")), Persisted::default());
    }

    #[test]
    fn corrupt_or_truncated_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let full = serde_json::to_string(&sample()).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert_eq!(load(&path), Persisted::default());
        assert!(!path.exists());
        let aside: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(aside.len(), 1);
        assert!(aside[0].starts_with("state.json.corrupt-"), "{aside:?}");
        // A later save works.
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path), sample());
    }
}
