//! One atomic file write, with the durability the state file needs: a temporary file beside the
//! target (created new, never through a symlink), the bytes, fsync of the file, a rename over
//! the target, fsync of the directory. A reader sees the old file or the new one, never a
//! half-written one, and after a crash or power cut the new one is on disk once `write` returned.
//!
//! Used by every file ocbar writes: the state file (`daemon::store`), the last fatal error
//! (`last_error`) and OpenCode's config and plugin files (`client::install`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Which permissions the new file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0600 (state that only this user may read).
    Private,
    /// The old file's permissions when it exists (a user's config stays as they set it), else
    /// 0644 less the umask.
    KeepOrDefault,
}

/// Write `bytes` to `path` atomically and durably (see the module doc). The directory must
/// exist. On error the target is unchanged and no temporary file is left behind.
pub fn write(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = temp_name(path);
    let result = write_temp(&tmp, path, bytes, mode).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable only once the directory entry is: fsync the directory.
    std::fs::File::open(dir)?.sync_all()
}

/// A name beside `path` that no other writer (process or thread) uses at the same time.
fn temp_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

fn write_temp(tmp: &Path, target: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let create_mode = match mode {
        Mode::Private => 0o600,
        Mode::KeepOrDefault => 0o644,
    };
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(create_mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(tmp)
    };
    let mut f = match open() {
        // Left by a writer that died with this pid long ago: it is ours to replace (removing
        // a symlink removes the link, never what it points to).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            open()?
        }
        other => other?,
    };
    f.write_all(bytes)?;
    if mode == Mode::KeepOrDefault
        && let Ok(old) = std::fs::metadata(target)
    {
        f.set_permissions(std::fs::Permissions::from_mode(
            old.permissions().mode() & 0o7777,
        ))?;
    }
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn writes_replace_and_leave_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        write(&p, b"one", Mode::Private).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write(&p, b"two", Mode::Private).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_users_permissions_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cli.json");
        std::fs::write(&p, "{}").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&p, b"{\"a\": 1}", Mode::KeepOrDefault).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir/f");
        assert!(write(&p, b"x", Mode::Private).is_err());
        // A directory in the target's place: the rename fails, the temp file is removed.
        let target = d.path().join("dir");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "k").unwrap();
        assert!(write(&target, b"x", Mode::Private).is_err());
        assert!(target.join("keep").is_file());
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn a_symlink_at_the_temp_name_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "safe").unwrap();
        let p = d.path().join("f");
        // Plant links at the next few temp names this process would use.
        let next = next_counter();
        for i in next..next + 64 {
            let mut n = p.file_name().unwrap().to_os_string();
            n.push(format!(".tmp-{}-{i}", std::process::id()));
            let _ = std::os::unix::fs::symlink(&victim, p.with_file_name(n));
        }
        write(&p, b"new", Mode::Private).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "safe");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    }

    fn next_counter() -> u32 {
        // The next counter value is at least the one a fresh name takes now.
        let probe = temp_name(Path::new("/x"));
        let s = probe.to_string_lossy();
        s.rsplit('-').next().unwrap().parse::<u32>().unwrap() + 1
    }
}
