//! The daemon's last fatal error, kept where `ocbar doctor` can read it: shared by the daemon,
//! which writes it, and the client, which reads it.
//!
//! A daemon started in the background (by the tmux plugin, `ocbar.conf` or a service manager)
//! that fails to start writes its error to a log nobody looks at, and every bar just goes
//! blank. So a daemon that gives up writes the error, and how to fix it, to
//! `<socket>.last-error`: next to the socket it was meant to serve, so each socket (each
//! daemon) has its own, and in the socket's directory, which must be the user's own and not
//! writable by others (nothing is written when that check fails; `doctor` then runs the same
//! check itself). The file is mode 0600, replaced atomically, and removed as soon as a daemon on
//! that socket has started. (The daemon also tells tmux: `daemon::push::tell_failed_start`.)

use std::path::{Path, PathBuf};

/// What a start that failed left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// When it failed (Unix ms).
    pub at_ms: i64,
    /// The failing daemon's pid.
    pub pid: u32,
    /// The error, as the daemon printed it.
    pub error: String,
    /// What to do about it.
    pub fix: String,
}

/// Where the last fatal error of the daemon on `socket` is kept.
pub fn path_for(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().unwrap_or_default().to_os_string();
    name.push(".last-error");
    socket.with_file_name(name)
}

/// One line, no control characters.
fn one_line(s: &str) -> String {
    crate::text::clean(s).collect()
}

/// Record a fatal error, at `at_ms`, of the daemon meant for `socket`. Nothing is written (and
/// that is no error) when the socket's directory is not private.
pub fn record(socket: &Path, at_ms: i64, error: &str, fix: &str) -> Result<(), String> {
    if crate::paths::check_socket_dir(socket).is_err() {
        return Ok(());
    }
    let text = format!(
        "at_ms={at_ms}\npid={}\nerror={}\nfix={}\n",
        std::process::id(),
        one_line(error),
        one_line(fix)
    );
    let path = path_for(socket);
    crate::atomic_file::write(&path, text.as_bytes(), crate::atomic_file::Mode::Private)
        .map_err(|e| format!("cannot keep this error in {}: {e}", path.display()))
}

/// Forget the last fatal error: a daemon on `socket` has started.
pub fn clear(socket: &Path) {
    let _ = std::fs::remove_file(path_for(socket));
}

/// The last fatal error of a daemon on `socket`, if one is kept.
pub fn read(socket: &Path) -> Option<LastError> {
    let path = path_for(socket);
    // Only a regular file of ours (never follow a link someone put there).
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() || meta.len() > 64 * 1024 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let mut e = LastError {
        at_ms: 0,
        pid: 0,
        error: String::new(),
        fix: String::new(),
    };
    for line in text.lines() {
        match line.split_once('=') {
            Some(("at_ms", v)) => e.at_ms = v.parse().unwrap_or(0),
            Some(("pid", v)) => e.pid = v.parse().unwrap_or(0),
            Some(("error", v)) => e.error = one_line(v),
            Some(("fix", v)) => e.fix = one_line(v),
            _ => {}
        }
    }
    (!e.error.is_empty()).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_read_back_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let socket = dir.path().join("ocbar.sock");
        assert_eq!(read(&socket), None);
        record(
            &socket,
            5,
            "config file x: line 3,\ncolumn 1: \x1b[31mbad",
            "fix it",
        )
        .unwrap();
        let e = read(&socket).expect("kept");
        assert_eq!(e.error, "config file x: line 3, column 1: [31mbad");
        assert_eq!(e.fix, "fix it");
        assert_eq!(e.pid, std::process::id());
        assert_eq!(e.at_ms, 5);
        let meta = std::fs::metadata(path_for(&socket)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        clear(&socket);
        assert_eq!(read(&socket), None);
    }

    #[test]
    fn nothing_is_written_into_a_directory_others_can_write() {
        let dir = tempfile::tempdir().unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let socket = dir.path().join("ocbar.sock");
        record(&socket, 1, "boom", "fix").unwrap();
        assert!(!path_for(&socket).exists());
    }
}
