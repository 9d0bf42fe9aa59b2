//! `ocbar install opencode-plugin` in a temporary HOME, as three kinds of user run it: an
//! OpenCode 2 user (`opencode --version` prints 2.x; a `cli.json` with comments, into which
//! OpenCode 2's migration copied the OpenCode 1 plugin), an OpenCode 1 user (the real 1.18.33
//! on PATH; a `tui.json` with comments), and a user with both configs. Then what `doctor`
//! says about each, from a real daemon. No OpenCode 2 build can run here: its `opencode` is a
//! script that prints a 2.x version, which is all the installer asks of it.

mod common;
mod daemon_harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::require_tool;
use daemon_harness::Daemon;

const CLI_JSON: &str = r#"{
  "$schema": "https://opencode.ai/v2/cli.json",
  // my theme, keep it
  "theme": { "name": "tokyonight" },
  "plugins": [
    "opencode-wakatime", // mine
    "./plugins/ocbar.tsx",
  ],
  /* attention as migrated */
  "attention": { "enabled": true },
}
"#;

const TUI_JSON: &str = r#"{
  // mine
  "theme": "tokyonight",
  "plugin": ["opencode-wakatime", // c
  ],
}
"#;

/// A directory with an `opencode` that prints `version`, as OpenCode 2's does.
fn fake_opencode(root: &Path, version: &str) -> PathBuf {
    let bin = root.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("opencode");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1\" = --version ] && echo {version}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `ocbar install opencode-plugin ARGS` with this config home and only `path` on PATH.
fn install(config_home: &Path, path: &Path, args: &[&str]) -> Output {
    let out = Command::new(daemon_harness::ocbar_bin())
        .args(["install", "opencode-plugin"])
        .args(args)
        .env("HOME", config_home.parent().unwrap())
        .env("XDG_CONFIG_HOME", config_home)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn doctor(d: &Daemon) -> String {
    stdout(&d.run(&["doctor"]))
}

#[test]
fn an_opencode_2_user() {
    // The daemon's config home is where the plugin goes, so that doctor sees it.
    let d = Daemon::start_with(&[], &[], Some("[notify]\ndesktop = true\n"));
    let home = d.dir.path();
    let oc = home.join("opencode");
    std::fs::create_dir_all(&oc).unwrap();
    std::fs::write(oc.join("cli.json"), CLI_JSON).unwrap();
    let bin = fake_opencode(home, "2.0.26");

    // Before: OpenCode 2 would refuse the OpenCode 1 plugin its migration copied.
    let doc = doctor(&d);
    assert!(
        doc.contains("cli.json lists the OpenCode 1 plugin, which OpenCode 2 refuses to load: run 'ocbar install opencode-plugin --v2'"),
        "{doc}"
    );

    let out = stdout(&install(home, &bin, &[]));
    assert!(
        out.starts_with("installing for OpenCode 2.0.26 ('opencode --version')"),
        "{out}"
    );
    assert_eq!(
        read(&oc.join("plugins/ocbar/tui.tsx")),
        read(&common::repo_dir().join("integrations/opencode/ocbar/tui.tsx"))
    );
    assert_eq!(
        read(&oc.join("plugins/ocbar/core.tsx")),
        read(&common::repo_dir().join("integrations/opencode/ocbar/core.tsx"))
    );
    assert!(!oc.join("tui.json").exists(), "{out}");
    assert!(!oc.join("plugins/ocbar.tsx").exists(), "{out}");
    // cli.json: only the refused entry is gone; comments and everything else stay.
    assert_eq!(
        read(&oc.join("cli.json")),
        CLI_JSON.replace("\n    \"./plugins/ocbar.tsx\",", "")
    );

    // Twice: nothing changes.
    let before = read(&oc.join("cli.json"));
    let again = stdout(&install(home, &bin, &[]));
    assert!(
        !again.contains("written") && !again.contains("removed"),
        "{again}"
    );
    assert_eq!(read(&oc.join("cli.json")), before);

    let doc = doctor(&d);
    assert!(
        doc.contains(&format!(
            "the OpenCode 2 plugin is installed ({})",
            oc.join("plugins/ocbar/tui.tsx").display()
        )),
        "{doc}"
    );
    // Notifications: a migrated `attention.enabled` is OpenCode 1's key; OpenCode 2's
    // opencode.notifications is off until attention.notifications is true.
    assert!(
        doc.contains(&format!(
            "desktop notifications: ocbar (OpenCode's own are off: attention.notifications is not true in {})",
            oc.join("cli.json").display()
        )),
        "{doc}"
    );
    std::fs::write(
        oc.join("cli.json"),
        before.replace("\"enabled\": true", "\"notifications\": true"),
    )
    .unwrap();
    let doc = doctor(&d);
    assert!(
        doc.contains("desktop notifications: OpenCode for finished, failed and waiting sessions a TUI shows (OpenCode 2's opencode.notifications, attention.notifications on in"),
        "{doc}"
    );
    std::fs::write(
        oc.join("cli.json"),
        before
            .replace("\"enabled\": true", "\"notifications\": true")
            .replace(
                "\"opencode-wakatime\",",
                "\"opencode-wakatime\", \"-opencode.notifications\",",
            ),
    )
    .unwrap();
    assert!(
        doctor(&d).contains("its opencode.notifications plugin is disabled"),
        "{}",
        doctor(&d)
    );

    // --uninstall: every file, and cli.json keeps the rest.
    let out = stdout(&install(home, &bin, &["--uninstall"]));
    assert!(!oc.join("plugins/ocbar").exists(), "{out}");
    assert!(read(&oc.join("cli.json")).contains("// my theme, keep it"));
}

#[test]
fn an_opencode_1_user_and_one_with_both_configs() {
    // OpenCode 1: the real 1.18.33 answers `--version`.
    let real = require_tool("opencode");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".config");
    let oc = home.join("opencode");
    std::fs::create_dir_all(&oc).unwrap();
    std::fs::write(oc.join("tui.json"), TUI_JSON).unwrap();
    let out = stdout(&install(&home, real.parent().unwrap(), &[]));
    assert!(
        out.starts_with("installing for OpenCode 1.18.33 ('opencode --version')"),
        "{out}"
    );
    let tui = read(&oc.join("tui.json"));
    assert!(tui.starts_with("{\n  // mine\n"), "{tui}");
    assert!(tui.contains("// c"), "{tui}");
    assert!(tui.contains("\"./plugins/ocbar.tsx\""), "{tui}");
    // Read back as OpenCode reads it (comments, trailing commas): the entry is listed.
    assert_eq!(
        ocbar::opencode_config::to_value(&tui).unwrap()["plugin"],
        serde_json::json!(["opencode-wakatime", "./plugins/ocbar.tsx"])
    );
    for f in [
        "plugins/ocbar.tsx",
        "plugins/ocbar/core.tsx",
        "plugins/ocbar/tui.tsx",
    ] {
        assert!(oc.join(f).is_file(), "{f}: {out}");
    }
    assert!(!oc.join("cli.json").exists());

    // The same user upgraded: OpenCode 2 ran (cli.json), tui.json is still there. OpenCode 2
    // is installed for, and tui.json is left exactly as it was (OpenCode 2 ignores it).
    std::fs::write(oc.join("cli.json"), CLI_JSON).unwrap();
    let bin = fake_opencode(dir.path(), "2.1.0");
    let tui_before = read(&oc.join("tui.json"));
    let out = stdout(&install(&home, &bin, &[]));
    assert!(out.starts_with("installing for OpenCode 2.1.0"), "{out}");
    assert_eq!(read(&oc.join("tui.json")), tui_before);
    assert!(!read(&oc.join("cli.json")).contains("ocbar"));

    // No opencode on PATH: cli.json decides.
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = stdout(&install(&home, &empty, &[]));
    assert!(
        out.starts_with("installing for OpenCode 2 (cli.json exists)"),
        "{out}"
    );

    // --v1 overrides what `opencode --version` says.
    std::fs::write(oc.join("tui.json"), TUI_JSON).unwrap();
    let out = stdout(&install(&home, &bin, &["--v1"]));
    assert!(out.starts_with("installing for OpenCode 1 (--v1)"), "{out}");
    assert!(read(&oc.join("tui.json")).contains("./plugins/ocbar.tsx"));

    // --uninstall removes both installs.
    let out = stdout(&install(&home, &bin, &["--uninstall"]));
    assert!(!read(&oc.join("tui.json")).contains("ocbar"), "{out}");
    assert!(!read(&oc.join("cli.json")).contains("ocbar"), "{out}");
    assert!(!oc.join("plugins/ocbar.tsx").exists(), "{out}");
    assert!(!oc.join("plugins/ocbar").exists(), "{out}");
    assert!(read(&oc.join("tui.json")).contains("// c"));
}
