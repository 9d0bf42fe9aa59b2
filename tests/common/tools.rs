//! The programs a test drives: installed by `scripts/install-test-deps.sh` or on `PATH`.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$OCBAR_TOOLS`, or `<repo>/.tools` (filled by `scripts/install-test-deps.sh`).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("OCBAR_TOOLS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo_dir().join(".tools"),
    }
}

/// The path of a program the test needs: `$OCBAR_TOOLS/bin/NAME`, else NAME on `PATH`.
/// Panics (fails the test, never skips it) when it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    let local = tools_dir().join("bin").join(name);
    if is_executable(&local) {
        return local;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if is_executable(&p) {
                return p;
            }
        }
    }
    panic!("missing {name}: run scripts/install-test-deps.sh");
}

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
