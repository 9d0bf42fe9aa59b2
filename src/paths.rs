//! Where ocbar's files live (the socket, the config, the state file, OpenCode's config), and
//! whether the socket's place is safe. The one XDG lookup: every path comes from here.

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
    if let Some(d) = runtime_dir() {
        return d.join("ocbar.sock");
    }
    fallback_dir().join("ocbar.sock")
}

/// An XDG base directory: `$VAR` when set and not empty, else `~/<under_home>`; `None` when
/// neither is set.
fn xdg_dir(var: &str, under_home: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(under_home))
}

/// `$XDG_RUNTIME_DIR` (no fallback: it must be the session's private runtime directory).
pub fn runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
pub fn state_home() -> Option<PathBuf> {
    xdg_dir("XDG_STATE_HOME", ".local/state")
}

/// The default config file: `$XDG_CONFIG_HOME/ocbar/config.toml`, else
/// `~/.config/ocbar/config.toml`.
pub fn config_file() -> Option<PathBuf> {
    config_home().map(|d| d.join("ocbar/config.toml"))
}

/// The state file (unvisited marks, mutes): `$XDG_STATE_HOME/ocbar/state.json`, else
/// `~/.local/state/ocbar/state.json`.
pub fn state_file() -> Option<PathBuf> {
    state_home().map(|d| d.join("ocbar/state.json"))
}

/// OpenCode's global config directory: `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`.
pub fn opencode_config_dir() -> Option<PathBuf> {
    config_home().map(|d| d.join("opencode"))
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
    let dir = socket_dir(socket);
    if dir == fallback_dir() && !dir.exists() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    check_socket_dir(socket)
}

fn socket_dir(socket: &Path) -> PathBuf {
    match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether the socket's directory exists, is ours and nobody else can write to it (what
/// [`prepare_socket_dir`] requires; this one only looks, for `doctor`).
pub fn check_socket_dir(socket: &Path) -> Result<(), String> {
    let dir = socket_dir(socket);
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
