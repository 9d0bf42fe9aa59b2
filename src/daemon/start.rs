//! Starting the daemon: claiming its socket, and a fatal start error kept where `doctor`
//! and the tmux segment can show it (with the fix) instead of a log nobody reads.

use super::*;

/// Fixes `doctor` shows with a fatal error (src/last_error.rs).
pub(super) const FIX_CONFIG: &str = "correct the config file where the error says (every key is checked; the README's Configuration lists them)";
pub(super) const FIX_SERVERS: &str =
    "correct the server URL (--server, OCBAR_SERVER or servers in the config file)";
pub(super) const FIX_SOCKET: &str = "do what the error says, or give the daemon another --socket";
pub(super) const FIX_SYSTEM: &str = "see the error; the daemon's log has the details";

/// Give up starting: say why on stderr, keep it for `ocbar doctor`, and tell tmux when it
/// started this daemon (see src/last_error.rs, `push::tell_failed_start`).
pub(super) fn fatal(socket: &Path, code: u8, error: &str, fix: &str) -> ExitCode {
    eprintln!("ocbar: {error}");
    keep_error(socket, error, fix);
    push::tell_failed_start();
    ExitCode::from(code)
}

/// Keep a fatal error for `ocbar doctor` (src/last_error.rs).
fn keep_error(socket: &Path, error: &str, fix: &str) {
    if let Err(e) = crate::last_error::record(socket, clock::now_ms(), error, fix) {
        eprintln!("ocbar: {e}");
    }
}

/// Why the socket cannot be claimed.
#[derive(Debug)]
pub(super) enum ClaimError {
    /// A daemon answers there: nothing is wrong, this one is not needed.
    Running(String),
    /// Something else is in the way (a file that is not a socket, a stale one that stays).
    Blocked(String),
}

impl ClaimError {
    pub(super) fn message(&self) -> &str {
        match self {
            ClaimError::Running(m) | ClaimError::Blocked(m) => m,
        }
    }
}

/// Refuse to start beside a live daemon; remove a socket file a crashed one left behind.
pub(super) fn claim_socket(socket: &Path) -> Result<(), ClaimError> {
    let Ok(meta) = std::fs::symlink_metadata(socket) else {
        return Ok(());
    };
    // Only a socket can be left by a crashed daemon: anything else is someone's file.
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return Err(ClaimError::Blocked(format!(
            "{} exists and is not a socket: refusing to replace it. Remove it yourself, or give the daemon another --socket",
            socket.display()
        )));
    }
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => Err(ClaimError::Running(format!(
            "another ocbar daemon is already running on {} ('ocbar doctor' shows it). Stop it first, or give this one another --socket",
            socket.display()
        ))),
        Err(_) => {
            std::fs::remove_file(socket).map_err(|e| {
                ClaimError::Blocked(format!(
                    "cannot remove the stale socket {}: {e}",
                    socket.display()
                ))
            })?;
            log!(
                "removed a stale socket left by an earlier daemon: {}",
                socket.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ClaimError, claim_socket};

    /// The daemon relies on tokio catching a panicking task (a resync that panics must not
    /// take the daemon down), and build.rs links the unwinder statically: it must still unwind.
    #[test]
    fn a_panicking_task_is_caught() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let joined = rt.block_on(async {
            tokio::spawn(async {
                if std::hint::black_box(true) {
                    panic!("a task that panics");
                }
            })
            .await
        });
        assert!(joined.is_err_and(|e| e.is_panic()));
    }

    #[test]
    fn claim_socket_never_deletes_what_is_not_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing there: fine.
        assert!(claim_socket(&dir.path().join("none.sock")).is_ok());
        // A regular file given as --socket (found by tests/security.rs: it used to be deleted).
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = claim_socket(&file).unwrap_err();
        assert!(
            matches!(&err, ClaimError::Blocked(m) if m.contains("not a socket")),
            "{err:?}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
        // A symlink to it is not a socket either.
        let link = dir.path().join("link.sock");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(claim_socket(&link).is_err());
        assert!(file.exists() && link.exists());
        // A socket nobody listens on (a crashed daemon's) is replaced.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        assert!(claim_socket(&stale).is_ok());
        assert!(!stale.exists());
        // A live one is refused.
        let live = dir.path().join("live.sock");
        let _l = std::os::unix::net::UnixListener::bind(&live).unwrap();
        assert!(matches!(
            claim_socket(&live),
            Err(ClaimError::Running(m)) if m.contains("already running")
        ));
    }
}
