//! The OpenCode TUI with ocbar's plugin, set up the way a user does it: the plugin installed by
//! `ocbar install opencode-plugin` into an isolated home, and the environment the TUI runs in.

use std::path::Path;
use std::process::Command;

/// Install ocbar's TUI plugin into `home` (its `.config/opencode`) with `ocbar install
/// opencode-plugin`, as a user runs it; the test fails if that fails.
pub fn install_plugin(home: &Path) {
    let install = Command::new(env!("CARGO_BIN_EXE_ocbar"))
        .args(["install", "opencode-plugin"])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .output()
        .expect("run ocbar install opencode-plugin");
    assert!(install.status.success(), "{install:?}");
}

/// The environment of a TUI a test starts: `home` and its XDG dirs (where
/// [`install_plugin`] put the plugin), OpenCode's update and download fetches off, and
/// `OCBAR_SOCKET` at the test's daemon.
pub fn tui_env(home: &Path, socket: &Path) -> Vec<(&'static str, String)> {
    let under = |p: &str| home.join(p).display().to_string();
    vec![
        ("HOME", home.display().to_string()),
        ("XDG_CONFIG_HOME", under(".config")),
        ("XDG_DATA_HOME", under(".local/share")),
        ("XDG_STATE_HOME", under(".local/state")),
        ("XDG_CACHE_HOME", under(".cache")),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
        ("OCBAR_SOCKET", socket.display().to_string()),
    ]
}
