//! OpenCode 2's shared background service, found through the file it records itself in:
//! `$XDG_STATE_HOME/opencode/service.json` (else `~/.local/state/opencode/service.json`),
//! `{id?, version?, url, pid, password?}`, mode 0600, rewritten while it runs and removed when
//! it exits (anomalyco/opencode `packages/cli/src/services/*`,
//! `packages/client/src/effect/service.ts`). Other release channels write
//! `service-<channel>.json` beside it.
//!
//! The password read here is the user's own, from the user's own file. It goes into the
//! connection's credentials and nowhere else: `Credentials`' `Debug` hides it, and it is never
//! logged, put in a command line, or shown by `doctor`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::daemon::source::Credentials;
use crate::server_url::ServerUrl;

/// One service file that names a live process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// Where the service listens.
    pub url: ServerUrl,
    /// Its process.
    pub pid: u32,
    /// Its version, if recorded.
    pub version: Option<String>,
    /// Its password as Basic-auth credentials (user `opencode`), if recorded.
    pub credentials: Option<Credentials>,
    /// The file's name (`service.json`, `service-local.json`…), for `doctor`.
    pub file: String,
}

/// `<state home>/opencode`, where OpenCode 2 records its services.
pub fn service_dir(state_home: Option<PathBuf>) -> Option<PathBuf> {
    state_home.map(|d| d.join("opencode"))
}

#[derive(Deserialize)]
struct Wire {
    url: String,
    #[serde(default)]
    pid: Option<u32>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The services recorded in `dir` whose process is alive under `proc_root`. Files that cannot
/// be read or parsed, or that name a dead process (a crashed service leaves its file), are
/// skipped. Blocking (reads files).
pub fn read_services(dir: &Path, proc_root: &Path) -> Vec<ServiceRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n == "service.json" || (n.starts_with("service-") && n.ends_with(".json")))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            // A service file is a few hundred bytes; refuse anything large.
            let bytes = std::fs::read(dir.join(&name))
                .ok()
                .filter(|b| b.len() < 64 * 1024)?;
            let w: Wire = serde_json::from_slice(&bytes).ok()?;
            let pid = w.pid?;
            if !proc_root.join(pid.to_string()).exists() {
                return None;
            }
            let url = ServerUrl::discovered(&w.url).ok()?;
            Some(ServiceRecord {
                url,
                pid,
                version: w.version.filter(|v| !v.is_empty()),
                credentials: w
                    .password
                    .filter(|p| !p.is_empty())
                    .map(|password| Credentials {
                        username: "opencode".to_owned(),
                        password,
                    }),
                file: name,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_services_are_read_with_their_password_and_dead_ones_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("opencode");
        let proc_root = tmp.path().join("proc");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(proc_root.join("4242")).unwrap();
        std::fs::write(
            dir.join("service.json"),
            r#"{"id":"svc_1","version":"2.0.20","url":"http://127.0.0.1:49374","pid":4242,"password":"pw"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("service-local.json"),
            r#"{"url":"http://127.0.0.1:49375","pid":999999}"#,
        )
        .unwrap();
        std::fs::write(dir.join("service-beta.json"), "{not json").unwrap();
        std::fs::write(dir.join("other.json"), r#"{"url":"http://x","pid":4242}"#).unwrap();
        let found = read_services(&dir, &proc_root);
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!(&*s.url, "http://127.0.0.1:49374");
        assert_eq!(s.pid, 4242);
        assert_eq!(s.version.as_deref(), Some("2.0.20"));
        assert_eq!(s.credentials.as_ref().unwrap().password, "pw");
        assert!(
            !format!("{s:?}").contains("\"pw\""),
            "Debug shows the password"
        );
        assert_eq!(
            service_dir(Some(PathBuf::from("/s"))),
            Some(PathBuf::from("/s/opencode"))
        );
    }
}
