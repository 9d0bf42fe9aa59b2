//! Temp dirs that outlive a test process (statics are never dropped) are swept by the next one.

use std::fs;

/// A temp dir `<tmp>/<prefix>XXXXXX` marked with our pid; dirs with the same prefix whose marked
/// process is gone are removed first.
pub(crate) fn owned_tempdir(prefix: &str) -> tempfile::TempDir {
    let tmp = std::env::temp_dir();
    if let Ok(entries) = fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.starts_with(prefix) {
                continue;
            }
            let Ok(pid) = fs::read_to_string(e.path().join("owner.pid")) else {
                continue;
            };
            let Ok(pid) = pid.trim().parse::<libc::pid_t>() else {
                continue;
            };
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    fs::write(dir.path().join("owner.pid"), std::process::id().to_string()).expect("owner.pid");
    dir
}
