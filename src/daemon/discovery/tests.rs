//! Discovery's tests: command lines, `/proc` tables, the followed set and its doctor lines.

use super::scan::*;
use super::*;

fn seen(cmd: &str) -> Option<Seen> {
    let argv: Vec<&str> = cmd.split(' ').collect();
    parse_cmdline(&argv)
}

#[test]
fn command_lines_are_read() {
    assert_eq!(
        seen("/x/bin/opencode serve --port 4096 --hostname 127.0.0.1"),
        Some(Seen::Listener {
            what: "opencode serve",
            host: Some("127.0.0.1".into()),
            port: Some(4096)
        })
    );
    assert_eq!(
        seen("opencode serve --port=0"),
        Some(Seen::Listener {
            what: "opencode serve",
            host: None,
            port: None
        })
    );
    assert_eq!(
        seen("opencode web"),
        Some(Seen::Listener {
            what: "opencode web",
            host: None,
            port: None
        })
    );
    assert_eq!(
        seen("opencode /home/me/proj --port 4198"),
        Some(Seen::Listener {
            what: "opencode TUI --port",
            host: None,
            port: Some(4198)
        })
    );
    assert_eq!(
        seen("opencode --mdns"),
        Some(Seen::Listener {
            what: "opencode TUI --port",
            host: None,
            port: None
        })
    );
    assert_eq!(
        seen("opencode attach http://127.0.0.1:4096/ --dir /p"),
        Some(Seen::Attach {
            url: "http://127.0.0.1:4096".into()
        })
    );
    assert_eq!(
        seen("opencode attach -s ses_1 http://h:1"),
        Some(Seen::Attach {
            url: "http://h:1".into()
        })
    );
    assert_eq!(
        seen("node /usr/lib/node_modules/opencode-ai/bin/opencode serve --port 5"),
        Some(Seen::Listener {
            what: "opencode serve",
            host: None,
            port: Some(5)
        })
    );
    for none in [
        "opencode",
        "opencode /home/me/proj",
        "opencode run --port 5 hello",
        "opencode attach",
        "bash -c opencode serve --port 5",
        "vim opencode",
        "opencode-other serve",
        "",
    ] {
        assert_eq!(seen(none), None, "{none}");
    }
}

#[test]
fn socket_tables_are_read() {
    let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
        0: 0100007F:8A0F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 48788 1 0 100 0 0 10 0\n   \
        1: 00000000:1000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0 100 0 0 10 0\n   \
        2: 0100007F:9999 0100007F:1000 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0 100 0 0 10 0\n";
    let m = listening(tcp, false);
    assert_eq!(m.get(&48788), Some(&("127.0.0.1".to_string(), 35343)));
    assert_eq!(m.get(&5), Some(&("0.0.0.0".to_string(), 4096)));
    assert!(!m.contains_key(&6), "not listening");
    let tcp6 = "header\n 0: 00000000000000000000000000000000:1000 00000000000000000000000000000000:0000 0A 0 0 0 0 0 7 1\n 1: 0000000000000000FFFF00000100007F:1001 0:0 0A 0 0 0 0 0 8 1\n";
    let m = listening(tcp6, true);
    assert_eq!(m.get(&7), Some(&("::".to_string(), 4096)));
    assert_eq!(m.get(&8), Some(&("127.0.0.1".to_string(), 4097)));
    assert_eq!(connect_host(Some("0.0.0.0")), "127.0.0.1");
    assert_eq!(connect_host(Some("::")), "[::1]");
    assert_eq!(connect_host(Some("10.0.0.2")), "10.0.0.2");
    assert_eq!(connect_host(Some("fe80::1")), "[fe80::1]");
}

#[test]
fn a_fake_proc_is_scanned() {
    let root = tempfile::tempdir().unwrap();
    let mk = |pid: u32, argv: &[&str]| {
        let d = root.path().join(pid.to_string());
        std::fs::create_dir_all(d.join("fd")).unwrap();
        std::fs::create_dir_all(d.join("net")).unwrap();
        std::fs::write(d.join("cmdline"), argv.join("\0") + "\0").unwrap();
        d
    };
    mk(10, &["/bin/opencode", "serve", "--port", "4101"]);
    mk(11, &["opencode", "attach", "http://localhost:4101/"]);
    mk(12, &["opencode", "attach", "http://u:pw@h:9"]);
    let d = mk(13, &["opencode", "serve"]);
    std::os::unix::fs::symlink("socket:[777]", d.join("fd/5")).unwrap();
    std::fs::write(
        d.join("net/tcp"),
        "h\n 0: 0100007F:1F40 00000000:0000 0A 0 0 0 0 0 777 1\n 1: 0100007F:1F41 00000000:0000 0A 0 0 0 0 0 778 1\n",
    )
    .unwrap();
    mk(14, &["sleep", "100"]);
    std::fs::create_dir_all(root.path().join("self")).unwrap();
    let found = scan(root.path());
    let urls: Vec<&str> = found.iter().map(|f| &*f.url).collect();
    assert_eq!(urls, ["http://127.0.0.1:4101", "http://127.0.0.1:8000"]);
    assert_eq!(found[0].how, "opencode serve, pid 10");
    assert_eq!(found[1].how, "opencode serve, pid 13");
}

#[test]
fn the_tuis_of_a_server_are_found_with_their_tmux_pane() {
    let root = tempfile::tempdir().unwrap();
    let mk = |pid: u32, argv: &[&str], environ: &[&str]| {
        let d = root.path().join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cmdline"), argv.join("\0") + "\0").unwrap();
        std::fs::write(d.join("environ"), environ.join("\0") + "\0").unwrap();
    };
    let in_tmux = ["HOME=/h", "TMUX=/tmp/tmux-1/default,500,0", "TMUX_PANE=%3"];
    mk(20, &["opencode", "serve", "--port", "4096"], &in_tmux);
    mk(21, &["opencode", "--port", "4096"], &in_tmux);
    // The program its wrapper runs, in the same pane: listed once.
    mk(22, &["/x/.opencode", "--port", "4096"], &in_tmux);
    mk(
        23,
        &["opencode", "attach", "http://localhost:4096/"],
        &["HOME=/h"],
    );
    mk(
        24,
        &["opencode", "attach", "http://127.0.0.1:5000"],
        &in_tmux,
    );
    mk(25, &["opencode", "--port", "4097"], &in_tmux);
    let found = tuis_of(root.path(), "http://127.0.0.1:4096");
    assert_eq!(
        found,
        [
            TuiProcess {
                pid: 21,
                tmux: Some(("/tmp/tmux-1/default".into(), "%3".into()))
            },
            TuiProcess {
                pid: 23,
                tmux: None
            }
        ]
    );
    assert_eq!(tmux_of_environ(b"TMUX=/s,1,2\0TMUX_PANE=bad\0"), None);
    assert_eq!(tmux_of_environ(b""), None);
}

#[test]
fn the_followed_set_merges_origins() {
    let mut f = Followed {
        configured: vec![ServerUrl::from("http://localhost:4096")],
        ..Followed::default()
    };
    f.update(Update::Scanned(vec![
        Found {
            url: ServerUrl::from("http://127.0.0.1:4096"),
            how: "opencode serve, pid 1".into(),
            credentials: None,
        },
        Found {
            url: ServerUrl::from("http://127.0.0.1:5000"),
            how: "opencode web, pid 2".into(),
            credentials: None,
        },
    ]));
    f.update(Update::Tui {
        tui: "77".into(),
        server: Some(ServerUrl::from("http://127.0.0.1:6000")),
    });
    let w: Vec<String> = f.wanted().iter().map(|u| u.to_string()).collect();
    assert_eq!(
        w,
        [
            "http://localhost:4096",
            "http://127.0.0.1:5000",
            "http://127.0.0.1:6000"
        ]
    );
    assert_eq!(f.origin("http://localhost:4096"), "configured");
    assert_eq!(
        f.origin("http://127.0.0.1:5000"),
        "discovered: opencode web, pid 2"
    );
    assert_eq!(f.origin("http://127.0.0.1:6000"), "reported by TUI 77");
    f.update(Update::Tui {
        tui: "77".into(),
        server: None,
    });
    assert_eq!(f.wanted().len(), 2);
    assert!(!Settings::new(&DiscoveryConfig::default(), Some("off")).enabled);
    assert!(
        Settings::new(
            &DiscoveryConfig {
                enabled: false,
                interval_seconds: 0,
                probe: None,
            },
            Some("1")
        )
        .interval
            == Duration::from_secs(1)
    );
}

#[test]
fn the_no_server_hint_follows_tuis_and_the_plugin() {
    let status = Arc::new(ScanStatus::default());
    status.record(1, Vec::new(), Vec::new());
    let f = Followed {
        scanning: Some(status),
        ..Followed::default()
    };
    let missing = f.doctor(2, 0, false);
    assert!(missing.contains("no OpenCode server found"), "{missing}");
    assert!(
        missing.contains("ocbar install opencode-plugin"),
        "{missing}"
    );
    let installed = f.doctor(2, 0, true);
    assert!(!installed.contains("ocbar install"), "{installed}");
    assert!(installed.contains("the plugin is installed"), "{installed}");
    // A bridged TUI is a server no scan finds: nothing is missing.
    assert!(!f.doctor(2, 1, false).contains("no OpenCode server found"));
}

#[tokio::test]
async fn reconcile_starts_and_stops_connections() {
    let (tx, _rx) = mpsc::channel(64);
    let mut f = Followed::new(
        &[ServerUrl::from("http://127.0.0.1:9")],
        tx,
        ConnectionConfig::default(),
    );
    let mut sources = HashMap::new();
    let added = f.reconcile(&mut sources);
    assert_eq!(added.len(), 1);
    assert_eq!(sources.len(), 1);
    f.update(Update::Scanned(vec![Found {
        url: ServerUrl::from("http://127.0.0.1:10"),
        how: "t".into(),
        credentials: None,
    }]));
    let ev = f.reconcile(&mut sources);
    assert_eq!(
        ev,
        vec![Event::ServerAdded {
            server: ServerUrl::from("http://127.0.0.1:10")
        }]
    );
    f.update(Update::Scanned(vec![]));
    let ev = f.reconcile(&mut sources);
    assert_eq!(
        ev,
        vec![Event::ServerRemoved {
            server: ServerUrl::from("http://127.0.0.1:10")
        }]
    );
    assert!(f.is_stale(&Event::Alive {
        server: ServerUrl::from("http://127.0.0.1:10")
    }));
    assert!(!f.is_stale(&Event::Alive {
        server: ServerUrl::from("http://127.0.0.1:9")
    }));
    assert_eq!(sources.len(), 1, "configured servers stay");
}

#[test]
fn a_recorded_service_is_found_with_its_password_unless_the_environment_gives_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("opencode");
    let proc_root = tmp.path().join("proc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(proc_root.join("77")).unwrap();
    std::fs::write(
        dir.join("service.json"),
        r#"{"url":"http://localhost:49374","pid":77,"password":"from-file","version":"2.0.20"}"#,
    )
    .unwrap();
    // The process scan found the service's own process already: it gets the password.
    let mut found = vec![Found {
        url: ServerUrl::from("http://127.0.0.1:49374"),
        how: "opencode serve, pid 77".into(),
        credentials: None,
    }];
    add_services(&mut found, &dir, &proc_root, None);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].how, "OpenCode 2 service, service.json pid 77");
    assert_eq!(found[0].credentials.as_ref().unwrap().password, "from-file");
    // OPENCODE_SERVER_PASSWORD is honoured over the file.
    let env = Credentials {
        username: "opencode".into(),
        password: "from-env".into(),
    };
    let mut found = Vec::new();
    add_services(&mut found, &dir, &proc_root, Some(env));
    assert_eq!(&*found[0].url, "http://127.0.0.1:49374");
    assert_eq!(found[0].credentials.as_ref().unwrap().password, "from-env");
}
