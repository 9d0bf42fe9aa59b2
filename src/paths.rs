//! Where the socket lives, and whether that place is safe.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The socket path: `--socket`, else `OCBAR_SOCKET`, else `$XDG_RUNTIME_DIR/ocbar.sock`,
/// else `/tmp/ocbar-$UID/ocbar.sock`. Reads only the environment: cheap enough for the client.
pub fn socket_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("OCBAR_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(d).join("ocbar.sock");
    }
    fallback_dir().join("ocbar.sock")
}

/// `/tmp/ocbar-$UID`: used when there is no `XDG_RUNTIME_DIR`.
pub fn fallback_dir() -> PathBuf {
    PathBuf::from(format!("/tmp/ocbar-{}", uid()))
}

/// The real user id of this process.
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Make sure the socket's directory exists, is ours and nobody else can write to it.
///
/// The fallback directory is created 0700. Any other directory must already be private:
/// a socket in a directory others can write could be replaced by theirs, so it is refused
/// with an explanation rather than silently used.
pub fn prepare_socket_dir(socket: &Path) -> Result<(), String> {
    let dir = match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dir == fallback_dir() && !dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let meta = std::fs::metadata(&dir).map_err(|e| {
        format!(
            "socket directory {} is not usable: {e} (create it with 'mkdir -m 700 {}')",
            dir.display(),
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let me = uid();
    if meta.uid() != me {
        return Err(format!(
            "socket directory {} belongs to uid {}, not to you (uid {me}): another user could replace the socket. Use a directory of your own, e.g. --socket $XDG_RUNTIME_DIR/ocbar.sock",
            dir.display(),
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "socket directory {} is writable by others (mode {mode:o}): another user could replace the socket. Run 'chmod 700 {}' or choose another --socket",
            dir.display(),
            dir.display()
        ));
    }
    Ok(())
}
