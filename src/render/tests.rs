//! Renderer tests: exact strings for the main cases, every state combination, and
//! property-style checks that hostile data comes out inert in every format.

use super::*;
use crate::wire::snapshot::{ServerView, SessionView};

/// What a bar's line must look like: the same checks the fuzz targets run on fuzzed snapshots
/// (one copy, in the fuzz crate; `tests/fuzz_regressions.rs` includes it the same way). By
/// `#[path]`, not a dependency: the fuzz crate depends on `ocbar`, so as a dev-dependency of the
/// library's own unit tests it would bring a second `ocbar` whose types are not these; and
/// `fuzz/` is its own workspace on purpose (nightly, libFuzzer).
#[path = "../../fuzz/src/bars.rs"]
mod bars;
use bars::{no_controls, pango_visible, sgr_visible, tmux_visible};

const NOW: i64 = 1_700_000_000_000;
const URL: &str = "http://127.0.0.1:4096";

fn server(url: &str, connected: bool, stale: bool) -> ServerView {
    ServerView {
        url: url.into(),
        connected,
        stale,
    }
}

fn sess(id: &str, title: &str, state: SessionState) -> SessionView {
    SessionView {
        id: id.into(),
        server: URL.into(),
        reachable: true,
        directory: "/work".into(),
        title: title.into(),
        state,
        attempt: None,
        retry_next_ms: None,
        message: None,
        model: None,
        agent: None,
        last_activity_ms: NOW - 60_000,
        unvisited: state.is_finished(),
        parent_id: None,
        children_active: 0,
        muted: false,
        host: None,
    }
}

fn retrying(id: &str, title: &str, attempt: u32, next: i64) -> SessionView {
    SessionView {
        attempt: Some(attempt),
        retry_next_ms: Some(next),
        message: Some("rate limited".into()),
        ..sess(id, title, SessionState::Retry)
    }
}

fn snap(sessions: Vec<SessionView>) -> Snapshot {
    Snapshot {
        servers: vec![server(URL, true, false)],
        sessions,
        ..Snapshot::default()
    }
}

fn ascii() -> RenderConfig {
    RenderConfig {
        ascii: true,
        ..RenderConfig::default()
    }
}

/// busy 1, retry 1 (attempt 3 in 12 s), done 2 (the newest unvisited, one visited),
/// error 1 (unvisited, older).
fn main_case() -> Snapshot {
    let mut visited = sess("s4", "Old refactor", SessionState::Done);
    visited.unvisited = false;
    visited.last_activity_ms = NOW - 3_600_000;
    let mut err = sess("s5", "Flaky test", SessionState::Error);
    err.last_activity_ms = NOW - 120_000;
    err.message = Some("context window exceeded".into());
    let mut busy = sess("s1", "Build feature", SessionState::Busy);
    busy.last_activity_ms = NOW - 2_000;
    busy.children_active = 2;
    busy.model = Some("anthropic/claude-sonnet-4".into());
    busy.agent = Some("build".into());
    let mut child = sess("c1", "sub-agent", SessionState::Busy);
    child.parent_id = Some("s1".into());
    snap(vec![
        busy,
        child,
        retrying("s2", "Research limits", 3, NOW + 12_000),
        sess("s3", "Fix the login bug", SessionState::Done),
        err,
        visited,
    ])
}

// ---------------------------------------------------------------------------------------------
// Format and config

#[test]
fn formats_parse_and_refuse_with_the_valid_list() {
    for f in Format::ALL {
        assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        assert_eq!(f.to_string(), f.as_str());
    }
    let e = "xml".parse::<Format>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown format \"xml\": expected one of plain, tmux, starship, waybar, json"
    );
    assert!("Tmux".parse::<Format>().is_err());
    assert!(!Format::Json.is_bar() && Format::Tmux.is_bar());
}

#[test]
fn config_defaults_and_typos() {
    let cfg: RenderConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(cfg, RenderConfig::default());
    assert_eq!(cfg.title_width, 24);
    assert_eq!(cfg.template.for_format(Format::Tmux), DEFAULT_TEMPLATE);

    let cfg: RenderConfig = serde_json::from_str(
        r##"{"title_width": 10, "ascii": true, "offline_marker": "off",
            "template": {"all": "{busy}", "tmux": "{done}"},
            "colors": {"busy": "colour208", "done": "#00ff00"},
            "glyphs": {"busy": "B"}}"##,
    )
    .unwrap();
    assert_eq!(cfg.title_width, 10);
    assert_eq!(cfg.template.for_format(Format::Tmux), "{done}");
    assert_eq!(cfg.template.for_format(Format::Plain), "{busy}");
    assert_eq!(cfg.colors.busy, Color::Indexed(208));
    assert_eq!(
        cfg.colors.error,
        Color::BRIGHT_RED,
        "unset colours keep their default"
    );

    for (bad, why) in [
        (r#"{"title_widht": 3}"#, "unknown field `title_widht`"),
        (r#"{"colors": {"bussy": "red"}}"#, "unknown field `bussy`"),
        (r#"{"template": {"i3": "{busy}"}}"#, "unknown field `i3`"),
        (r#"{"glyphs": {"idle": "."}}"#, "unknown field `idle`"),
        (r#"{"glyph_set": "nerdfont"}"#, "unknown variant `nerdfont`"),
        (
            r#"{"colors": {"busy": "reddish"}}"#,
            "unknown colour \"reddish\"",
        ),
        (
            r#"{"template": {"all": "{bsy}"}}"#,
            "unknown placeholder {bsy}",
        ),
        (r#"{"template": {"all": "{busy"}}"#, "unclosed {"),
    ] {
        let e = serde_json::from_str::<RenderConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The main case, exactly, in every format

#[test]
fn main_case_plain() {
    let s = main_case();
    assert_eq!(
        render(Format::Plain, &s, NOW, &ascii()),
        "*1 r1 #3 12s +2 !1 + Fix the login bug (+1)"
    );
    // The default draws in any font.
    assert_eq!(
        render(Format::Plain, &s, NOW, &RenderConfig::default()),
        "\u{25d4}1 \u{21bb}1 #3 12s \u{2713}2 \u{2717}1 \u{2713} Fix the login bug (+1)"
    );
    // Nerd Font glyphs are one setting away.
    let nerd: RenderConfig = serde_json::from_str(r#"{"glyph_set": "nerd"}"#).unwrap();
    assert_eq!(
        render(Format::Plain, &s, NOW, &nerd),
        "\u{f110}1 \u{f021}1 #3 12s \u{f00c}2 \u{f00d}1 \u{f00c} Fix the login bug (+1)"
    );
    // `ascii = true`, the older switch, still means ASCII whatever glyph_set says.
    let both: RenderConfig =
        serde_json::from_str(r#"{"glyph_set": "nerd", "ascii": true}"#).unwrap();
    assert_eq!(
        render(Format::Plain, &s, NOW, &both),
        render(Format::Plain, &s, NOW, &ascii())
    );
}

#[test]
fn main_case_tmux() {
    let s = main_case();
    assert_eq!(
        render(Format::Tmux, &s, NOW, &ascii()),
        "#[fg=white,bg=black] #[fg=brightblue]*1#[fg=white] #[fg=yellow]r1#[fg=white] \
         #[fg=yellow]##3 12s#[fg=white] #[fg=green]+2#[fg=white] #[fg=brightred]!1#[fg=white] \
         #[fg=green,bold]+#[fg=white,nobold] #[fg=green,bold]Fix the login bug#[fg=white,nobold] \
         #[fg=cyan](+1)#[fg=white] #[default]"
    );
    // On the status line's own background instead.
    let mut cfg = ascii();
    cfg.colors.tmux_bg = Color::Default;
    assert_eq!(
        render(Format::Tmux, &s, NOW, &cfg),
        "#[fg=brightblue]*1#[fg=default] #[fg=yellow]r1#[fg=default] #[fg=yellow]##3 12s#[fg=default] \
         #[fg=green]+2#[fg=default] #[fg=brightred]!1#[fg=default] #[fg=green,bold]+#[fg=default,nobold] \
         #[fg=green,bold]Fix the login bug#[fg=default,nobold] #[fg=cyan](+1)#[fg=default]"
    );
    let cfg = RenderConfig {
        no_color: true,
        ..ascii()
    };
    assert_eq!(
        render(Format::Tmux, &s, NOW, &cfg),
        "*1 r1 ##3 12s +2 !1 #[bold]+#[nobold] #[bold]Fix the login bug#[nobold] (+1)"
    );
}

#[test]
fn main_case_starship() {
    let s = main_case();
    assert_eq!(
        render(Format::Starship, &s, NOW, &ascii()),
        "\x1b[94m*1\x1b[39m \x1b[33mr1\x1b[39m \x1b[33m#3 12s\x1b[39m \x1b[32m+2\x1b[39m \
         \x1b[91m!1\x1b[39m \x1b[1;32m+\x1b[22;39m \x1b[1;32mFix the login bug\x1b[22;39m \
         \x1b[36m(+1)\x1b[39m"
    );
    let cfg = RenderConfig {
        no_color: true,
        ..ascii()
    };
    assert_eq!(
        render(Format::Starship, &s, NOW, &cfg),
        "*1 r1 #3 12s +2 !1 \x1b[1m+\x1b[22m \x1b[1mFix the login bug\x1b[22m (+1)"
    );
}

#[test]
fn main_case_waybar() {
    let s = main_case();
    let cfg = RenderConfig {
        no_color: true,
        ..ascii()
    };
    let out = render(Format::Waybar, &s, NOW, &cfg);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["text"],
        "*1 r1 #3 12s +2 !1 <span weight=\"bold\">+</span> \
         <span weight=\"bold\">Fix the login bug</span> (+1)"
    );
    assert_eq!(v["alt"], "error");
    assert_eq!(
        v["class"],
        serde_json::json!(["error", "retry", "busy", "done", "unvisited"])
    );
    assert_eq!(
        v["tooltip"],
        "  * busy    Build feature      2s ago    +2 sub-agents  anthropic/claude-sonnet-4  build\n\
         \x20 r retry   Research limits    1m ago    attempt 3, next in 12s (rate limited)\n\
         <span weight=\"bold\">n</span> + done    <span weight=\"bold\">Fix the login bug</span>  1m ago\n\
         <span weight=\"bold\">n</span> ! error   <span weight=\"bold\">Flaky test</span>         2m ago    context window exceeded\n\
         \x20 + done    Old refactor       1h ago"
    );
    assert!(!out.contains('\n'), "one line");

    let coloured = render(Format::Waybar, &s, NOW, &ascii());
    let v: serde_json::Value = serde_json::from_str(&coloured).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("<span foreground=\"#89b4fa\">*1</span> "),
        "{text}"
    );
    assert!(
        text.contains("<span foreground=\"#a6e3a1\" weight=\"bold\">Fix the login bug</span>"),
        "{text}"
    );
}

#[test]
fn json_is_the_snapshot_on_one_line() {
    let s = main_case();
    let out = render(Format::Json, &s, NOW, &RenderConfig::default());
    assert!(!out.contains('\n'));
    let back: Snapshot = serde_json::from_str(&out).unwrap();
    assert_eq!(back, s);
    assert!(
        out.starts_with("{\"version\":1,\"servers\":[{\"url\":"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Empty, offline, unknown

#[test]
fn nothing_relevant_renders_nothing() {
    for s in [Snapshot::default(), snap(vec![])] {
        for f in [Format::Plain, Format::Tmux, Format::Starship] {
            assert_eq!(render(f, &s, NOW, &RenderConfig::default()), "", "{f}");
        }
        let v: serde_json::Value =
            serde_json::from_str(&render(Format::Waybar, &s, NOW, &RenderConfig::default()))
                .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"text": "", "alt": "idle", "tooltip": panel::NOTHING, "class": []})
        );
        assert_eq!(
            render_panel(&s, NOW, &RenderConfig::default(), PanelStyle::Ansi),
            panel::NOTHING
        );
    }
    // Literal text in a template does not keep an empty segment alive.
    let cfg = RenderConfig {
        template: serde_json::from_str(r#"{"all": "[{busy}] ocbar:"}"#).unwrap(),
        ..ascii()
    };
    assert_eq!(render(Format::Plain, &snap(vec![]), NOW, &cfg), "");
}

#[test]
fn offline_shows_the_marker_only() {
    let mut s = main_case();
    s.servers = vec![server(URL, false, true), server("http://h:1", false, true)];
    assert_eq!(render(Format::Plain, &s, NOW, &ascii()), "?");
    assert_eq!(
        render(Format::Plain, &s, NOW, &RenderConfig::default()),
        "\u{2298}"
    );
    assert_eq!(
        render(Format::Tmux, &s, NOW, &RenderConfig::default()),
        "#[fg=white,bg=black] #[fg=brightblack]\u{2298}#[fg=white] #[default]"
    );
    assert_eq!(
        render(Format::Starship, &s, NOW, &ascii()),
        "\x1b[90m?\x1b[39m"
    );
    let marker = |m: &str| RenderConfig {
        offline_marker: Some(m.into()),
        ..ascii()
    };
    assert_eq!(
        render(Format::Tmux, &s, NOW, &marker(" #[fg=red]off\n")),
        "#[fg=white,bg=black] #[fg=red]off #[default]"
    );
    assert_eq!(render(Format::Tmux, &s, NOW, &marker("")), "");

    let v: serde_json::Value =
        serde_json::from_str(&render(Format::Waybar, &s, NOW, &ascii())).unwrap();
    assert_eq!(v["alt"], "offline");
    assert_eq!(v["class"], serde_json::json!(["offline"]));
    assert!(
        v["tooltip"]
            .as_str()
            .unwrap()
            .starts_with("<span foreground=\"#a6adc8\">?</span> No OpenCode server connected: http://127.0.0.1:4096, http://h:1\n"),
        "{}",
        v["tooltip"]
    );
    // No servers configured is not offline: just nothing to show.
    assert_eq!(
        render(Format::Plain, &Snapshot::default(), NOW, &ascii()),
        ""
    );
}

#[test]
fn unknown_never_looks_finished_and_a_known_outcome_stays_known() {
    // Which state a session shows is the model's decision (model/session.rs `visible_state`):
    // a turn in flight whose server is stale is unknown, a finished session keeps its state
    // when its server goes (shown `unreachable`). A bar draws them as they are.
    let mut lost = sess("s1", "Lost", SessionState::Unknown);
    lost.server = "http://other:4096".into();
    lost.unvisited = false;
    let mut on_stale = sess("s2", "Done elsewhere", SessionState::Done);
    on_stale.server = "http://other:4096".into();
    on_stale.reachable = false;
    let mut s = snap(vec![lost, on_stale]);
    s.servers.push(server("http://other:4096", true, true));
    assert_eq!(
        render(Format::Plain, &s, NOW, &ascii()),
        "+1 ~1 + Done elsewhere"
    );
    let v: serde_json::Value =
        serde_json::from_str(&render(Format::Waybar, &s, NOW, &ascii())).unwrap();
    assert_eq!(v["alt"], "done");
    assert_eq!(
        v["class"],
        serde_json::json!(["done", "unknown", "unvisited"])
    );
    assert_eq!(
        render_panel(&s, NOW, &ascii(), PanelStyle::Plain),
        "~ http://other:4096: catching up, states unknown\n\
         \x20 ~ unknown Lost            1m ago\n\
         n + done    Done elsewhere  1m ago    unreachable"
    );
}

// ---------------------------------------------------------------------------------------------
// Every state combination

const STATES: [(SessionState, &str); 7] = [
    (SessionState::Busy, "*"),
    (SessionState::Retry, "r"),
    (SessionState::Waiting, "?"),
    (SessionState::Done, "+"),
    (SessionState::Error, "!"),
    (SessionState::Aborted, "x"),
    (SessionState::Unknown, "~"),
];

#[test]
fn every_state_combination() {
    for mask in 1u32..(1 << STATES.len()) {
        // State i present with i+1 sessions; finished ones unvisited, newest is the last
        // finished state in table order.
        let mut sessions = Vec::new();
        let mut expected = Vec::<String>::new();
        let mut newest: Option<(&str, String)> = None;
        let mut unvisited = 0;
        for (i, (st, glyph)) in STATES.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let n = i + 1;
            expected.push(format!("{glyph}{n}"));
            if *st == SessionState::Retry {
                expected.push("#1 5s".into());
            }
            for k in 0..n {
                let title = format!("{} {k}", st.as_str());
                let mut s = sess(&format!("{i}-{k}"), &title, *st);
                if *st == SessionState::Retry {
                    s = retrying(&s.id, &title, 1 + k as u32, NOW + 5_000 + k as i64 * 1000);
                }
                s.last_activity_ms = NOW - 1_000_000 + (i * 10 + k) as i64;
                if st.is_finished() {
                    unvisited += 1;
                    newest = Some((glyph, title));
                }
                sessions.push(s);
            }
        }
        if let Some((glyph, title)) = newest {
            expected.push(format!("{glyph} {title}"));
            if unvisited > 1 {
                expected.push(format!("(+{})", unvisited - 1));
            }
        }
        let s = snap(sessions);
        let got = render(Format::Plain, &s, NOW, &ascii());
        assert_eq!(got, expected.join(" "), "mask {mask:07b}");

        let v: serde_json::Value =
            serde_json::from_str(&render(Format::Waybar, &s, NOW, &ascii())).unwrap();
        let order = [
            SessionState::Waiting,
            SessionState::Error,
            SessionState::Retry,
            SessionState::Busy,
            SessionState::Done,
            SessionState::Aborted,
            SessionState::Unknown,
        ];
        let present = |st: &SessionState| {
            let i = STATES.iter().position(|(s, _)| s == st).unwrap();
            mask & (1 << i) != 0
        };
        let mut classes: Vec<&str> = order
            .iter()
            .filter(|st| present(st))
            .map(|st| st.as_str())
            .collect();
        assert_eq!(v["alt"], classes[0], "mask {mask:07b}");
        if unvisited > 0 {
            classes.push("unvisited");
        }
        assert_eq!(v["class"], serde_json::json!(classes), "mask {mask:07b}");
        let rows = v["tooltip"].as_str().unwrap().lines().count();
        assert_eq!(rows, s.sessions.len(), "one tooltip line per session");
    }
}

// ---------------------------------------------------------------------------------------------
// Retry countdown, truncation, templates

#[test]
fn retry_countdown() {
    let one = |next: i64, attempt: Option<u32>| {
        let mut r = retrying("r", "R", 1, next);
        r.attempt = attempt;
        render(Format::Plain, &snap(vec![r]), NOW, &ascii())
    };
    assert_eq!(one(NOW + 12_000, Some(3)), "r1 #3 12s");
    assert_eq!(one(NOW + 11_001, Some(3)), "r1 #3 12s", "rounded up");
    assert_eq!(one(NOW + 125_000, Some(1)), "r1 #1 2m05s");
    assert_eq!(one(NOW, Some(4)), "r1 #4", "due: no countdown");
    assert_eq!(one(NOW - 5_000, None), "r1");
    assert_eq!(one(NOW + 3_000, None), "r1 3s");
    // The soonest of several.
    let s = snap(vec![
        retrying("a", "A", 5, NOW + 40_000),
        retrying("b", "B", 2, NOW + 7_000),
        SessionView {
            retry_next_ms: None,
            ..retrying("c", "C", 9, 0)
        },
    ]);
    assert_eq!(render(Format::Plain, &s, NOW, &ascii()), "r3 #2 7s");
    assert!(time_sensitive(&s));
    assert!(!time_sensitive(&main_case_without_retry()));
    // The panel shows the countdown per session.
    assert_eq!(
        render_panel(&s, NOW, &ascii(), PanelStyle::Plain),
        "  r retry   A  1m ago    attempt 5, next in 40s (rate limited)\n\
         \x20 r retry   B  1m ago    attempt 2, next in 7s (rate limited)\n\
         \x20 r retry   C  1m ago    attempt 9 (rate limited)"
    );
}

fn main_case_without_retry() -> Snapshot {
    let mut s = main_case();
    s.sessions.retain(|v| v.state != SessionState::Retry);
    s
}

#[test]
fn titles_truncate_by_characters() {
    let title = "日本語のタイトルがとても長いセッション名です、本当に長い";
    let s = snap(vec![sess("s", title, SessionState::Done)]);
    let out = render(Format::Plain, &s, NOW, &ascii());
    assert_eq!(out, "+1 + 日本語のタイトルがとても長いセッション名です、…");
    assert_eq!(out.chars().count(), "+1 + ".len() + 24);
    let cfg = RenderConfig {
        title_width: 5,
        ..ascii()
    };
    assert_eq!(render(Format::Plain, &s, NOW, &cfg), "+1 + 日本語の…");
    let cfg = RenderConfig {
        title_width: 0,
        ..ascii()
    };
    assert_eq!(
        render(Format::Plain, &s, NOW, &cfg),
        format!("+1 + {title}")
    );
    // Escaping happens after cutting: `#` counts once, `##` is never split.
    let s = snap(vec![sess("s", "####ab", SessionState::Done)]);
    let cfg = RenderConfig {
        title_width: 4,
        no_color: true,
        ..ascii()
    };
    assert_eq!(
        render(Format::Tmux, &s, NOW, &cfg),
        "+1 #[bold]+#[nobold] #[bold]######…#[nobold]"
    );
    // A blank title falls back to the id.
    let s = snap(vec![sess("ses_123", " \n ", SessionState::Error)]);
    assert_eq!(render(Format::Plain, &s, NOW, &ascii()), "!1 ! ses_123");
}

#[test]
fn templates() {
    let with = |t: &str| RenderConfig {
        template: Templates {
            all: Some(Template::new(t).unwrap()),
            ..Templates::default()
        },
        ..ascii()
    };
    let s = main_case();
    assert_eq!(render(Format::Plain, &s, NOW, &with("[{busy}]")), "[*1]");
    assert_eq!(
        render(Format::Plain, &s, NOW, &with("{busy}|{done}")),
        "*1|+2"
    );
    assert_eq!(
        render(Format::Plain, &s, NOW, &with("{waiting}{busy}   {done}")),
        "*1 +2"
    );
    assert_eq!(render(Format::Plain, &s, NOW, &with("  {waiting}  ")), "");
    assert_eq!(
        render(Format::Plain, &s, NOW, &with("{{{unvisited}}}")),
        "{n2}"
    );
    assert_eq!(
        render(
            Format::Plain,
            &s,
            NOW,
            &with("{unvisited_title}\t{unvisited_more}")
        ),
        "Fix the login bug (+1)"
    );
    assert_eq!(
        render(Format::Tmux, &s, NOW, &with("#[bg=blue]{busy}")),
        "#[fg=white,bg=black] #[bg=blue]#[fg=brightblue]*1#[fg=white] #[default]",
        "literal text is tmux markup"
    );
    // Per-bar templates win over `all`.
    let cfg = RenderConfig {
        template: serde_json::from_str(r#"{"all": "{busy}", "starship": "{error}"}"#).unwrap(),
        no_color: true,
        ..ascii()
    };
    assert_eq!(render(Format::Starship, &s, NOW, &cfg), "!1");
    assert_eq!(render(Format::Tmux, &s, NOW, &cfg), "*1");
    // Glyph overrides are data: escaped like titles.
    let cfg = RenderConfig {
        glyphs: GlyphOverrides {
            busy: Some("#B".into()),
            ..GlyphOverrides::default()
        },
        no_color: true,
        ..with("{busy}")
    };
    assert_eq!(render(Format::Tmux, &s, NOW, &cfg), "##B1");
}

// ---------------------------------------------------------------------------------------------
// The panel

#[test]
fn panel_lists_top_level_sessions() {
    let s = main_case();
    assert_eq!(
        render_panel(&s, NOW, &ascii(), PanelStyle::Plain),
        "  * busy    Build feature      2s ago    +2 sub-agents  anthropic/claude-sonnet-4  build\n\
         \x20 r retry   Research limits    1m ago    attempt 3, next in 12s (rate limited)\n\
         n + done    Fix the login bug  1m ago\n\
         n ! error   Flaky test         2m ago    context window exceeded\n\
         \x20 + done    Old refactor       1h ago"
    );
    assert_eq!(
        panel(&s, NOW, &ascii()),
        render_panel(&s, NOW, &ascii(), PanelStyle::Plain)
    );
    let ansi = render_panel(&s, NOW, &ascii(), PanelStyle::Ansi);
    assert!(
        ansi.contains("\x1b[1;36mn\x1b[22;39m \x1b[32m+ done   \x1b[39m \x1b[1;32mFix the login bug\x1b[22;39m  1m ago"),
        "{ansi:?}"
    );
    let cfg = RenderConfig {
        no_color: true,
        ..ascii()
    };
    let plain_ansi = render_panel(&s, NOW, &cfg, PanelStyle::Ansi);
    assert!(
        plain_ansi.contains("\x1b[1mn\x1b[22m + done    \x1b[1mFix the login bug\x1b[22m  1m ago")
    );
    // One sub-agent, singular; panel titles cut at panel_title_width.
    let mut one = sess("p", "A very long title that goes on", SessionState::Busy);
    one.children_active = 1;
    let cfg = RenderConfig {
        panel_title_width: 10,
        ..ascii()
    };
    assert_eq!(
        render_panel(&snap(vec![one]), NOW, &cfg, PanelStyle::Plain),
        "  * busy    A very lo…  1m ago    +1 sub-agent"
    );
    // A muted session says so (before its model and agent).
    let mut muted = sess("m", "Quiet one", SessionState::Done);
    muted.muted = true;
    muted.agent = Some("build".into());
    assert_eq!(
        render_panel(&snap(vec![muted]), NOW, &ascii(), PanelStyle::Plain),
        "n + done    Quiet one  1m ago    muted  build"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile data, in every format

const HOSTILE: [&str; 10] = [
    "#[fg=red]red#[default]",
    "#(rm -rf ~)",
    "#{pane_title}",
    "<b>&amp;</b> 'x' \"y\"",
    "\x1b[31mansi\x1b[0m",
    "\x1b]0;x\x07osc",
    "bell\x07\x07",
    "crlf\r\nsecond line",
    "c1\u{9b}31m\u{85}nel",
    "%H%M \\ $HOME `id` \u{202E}rtl\u{2028}ls",
];

/// A snapshot where every piece of data is `h`.
fn hostile_snap(h: &str, state: SessionState) -> Snapshot {
    let mut s = sess(h, h, state);
    s.model = Some(h.into());
    s.agent = Some(h.into());
    s.message = Some(h.into());
    if state == SessionState::Retry {
        s.attempt = Some(2);
        s.retry_next_ms = Some(NOW + 1_000);
    }
    let mut stale = sess("x", h, SessionState::Done);
    stale.server = format!("{URL}/{h}").into();
    Snapshot {
        servers: vec![
            server(URL, true, false),
            server(&format!("{URL}/{h}"), false, true),
        ],
        sessions: vec![s, sess("ok", "fine", SessionState::Done), stale],
        ..Snapshot::default()
    }
}

#[test]
fn hostile_data_is_inert_in_every_format() {
    let states = [
        SessionState::Done,
        SessionState::Error,
        SessionState::Aborted,
        SessionState::Retry,
        SessionState::Busy,
        SessionState::Waiting,
    ];
    for h in HOSTILE {
        let cleaned: String = crate::text::clean(h).collect();
        for st in states {
            for base in [RenderConfig::default(), ascii()] {
                for no_color in [false, true] {
                    let cfg = RenderConfig {
                        no_color,
                        title_width: 0,
                        panel_title_width: 0,
                        ..base.clone()
                    };
                    let s = hostile_snap(h, st);
                    let finished = st.is_finished();

                    let plain = render(Format::Plain, &s, NOW, &cfg);
                    no_controls(&plain, false);
                    assert_eq!(plain.contains(&cleaned), finished, "{plain:?}");

                    let tmux = render(Format::Tmux, &s, NOW, &cfg);
                    no_controls(&tmux, false);
                    let visible = tmux_visible(&tmux);
                    assert_eq!(visible.contains(&cleaned), finished, "{tmux:?}");

                    let star = render(Format::Starship, &s, NOW, &cfg);
                    let visible = sgr_visible(&star);
                    no_controls(&visible, false);
                    assert_eq!(visible, plain, "starship is plain text plus SGR");

                    let way = render(Format::Waybar, &s, NOW, &cfg);
                    no_controls(&way, false);
                    let v: serde_json::Value = serde_json::from_str(&way).unwrap();
                    let text = pango_visible(v["text"].as_str().unwrap());
                    no_controls(&text, false);
                    assert_eq!(text, plain, "waybar text is the plain segment in Pango");
                    let tip = v["tooltip"].as_str().unwrap();
                    no_controls(tip, true);
                    let tip_text = pango_visible(tip);
                    assert_eq!(tip_text.lines().count(), 4, "{tip:?}");
                    assert!(tip_text.contains(&cleaned), "{tip:?}");

                    for style in [PanelStyle::Plain, PanelStyle::Ansi] {
                        let panel = render_panel(&s, NOW, &cfg, style);
                        let visible = sgr_visible(&panel);
                        no_controls(&visible, true);
                        assert_eq!(visible.lines().count(), 4, "{panel:?}");
                    }

                    let json = render(Format::Json, &s, NOW, &cfg);
                    assert!(!json.contains('\n'));
                    assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), s);
                }
            }
        }
    }
}

#[test]
fn hostile_titles_exactly() {
    let cfg = RenderConfig {
        no_color: true,
        title_width: 0,
        ..ascii()
    };
    let one =
        |f: Format, t: &str| render(f, &snap(vec![sess("s", t, SessionState::Done)]), NOW, &cfg);
    assert_eq!(
        one(Format::Tmux, "#[fg=red]x #(rm -rf ~)"),
        "+1 #[bold]+#[nobold] #[bold]##[fg=red]x ##(rm -rf ~)#[nobold]"
    );
    assert_eq!(
        one(Format::Plain, "\x1b[31mred\x1b]0;t\x07\r\nz\u{9b}"),
        "+1 + [31mred ]0;t z"
    );
    let v: serde_json::Value = serde_json::from_str(&one(Format::Waybar, "<b>&amp;</b>")).unwrap();
    assert_eq!(
        v["text"],
        "+1 <span weight=\"bold\">+</span> <span weight=\"bold\">&lt;b&gt;&amp;amp;&lt;/b&gt;</span>"
    );
}

#[test]
fn the_fuzz_checks_hold_on_the_unit_cases() {
    let states = [
        SessionState::Done,
        SessionState::Error,
        SessionState::Retry,
        SessionState::Waiting,
    ];
    for cfg in [RenderConfig::default(), ascii()] {
        bars::check_all_formats(&main_case(), &cfg, NOW);
        for h in HOSTILE {
            for st in states {
                bars::check_all_formats(&hostile_snap(h, st), &cfg, NOW);
            }
        }
    }
}

/// One connected server, with one busy session or none.
fn one(busy: bool) -> Snapshot {
    if busy {
        snap(vec![sess("ses_1", "x", SessionState::Busy)])
    } else {
        snap(vec![])
    }
}

#[test]
fn a_notice_goes_before_the_segment_reversed_in_its_colour() {
    let notice = Some(("fix #12 finished", SessionState::Done));
    assert_eq!(
        tmux::render_with_notice(&one(true), 0, &ascii(), notice),
        "#[fg=black,bg=green,bold] + fix ##12 finished #[default] \
         #[fg=white,bg=black] #[fg=brightblue]*1#[fg=white] #[default]"
    );
    // Nothing else to show: the notice alone, no empty box, no trailing space.
    assert_eq!(
        tmux::render_with_notice(&one(false), 0, &ascii(), notice),
        "#[fg=black,bg=green,bold] + fix ##12 finished #[default]"
    );
    assert_eq!(render(Format::Tmux, &one(false), 0, &ascii()), "");
    let plain = RenderConfig {
        no_color: true,
        ..ascii()
    };
    assert_eq!(
        tmux::render_with_notice(&one(true), 0, &plain, notice),
        "#[reverse,bold] + fix ##12 finished #[default] *1"
    );
}

#[test]
fn a_long_or_hostile_notice_is_cut_and_inert() {
    let long = format!("#[fg=red]#(touch x)\n{}", "y".repeat(200));
    let out =
        tmux::render_with_notice(&one(false), 0, &ascii(), Some((&long, SessionState::Error)));
    assert!(
        out.starts_with("#[fg=black,bg=brightred,bold] ! ##[fg=red]##(touch x) y"),
        "{out}"
    );
    assert!(out.ends_with("y… #[default]"), "{out}");
    assert!(!out.contains('\n'));
    assert_eq!(
        out.matches('y').count(),
        tmux::NOTICE_WIDTH - "#[fg=red]#(touch x) ".len() - 1
    );
}

#[test]
fn the_panel_names_the_host_of_a_remote_session_and_a_dropped_link() {
    use crate::wire::snapshot::RemoteView;
    let mut remote = sess("ses_r", "far job", SessionState::Done);
    remote.host = Some("dev\u{1b}[2Jbox".into());
    remote.reachable = false;
    let mut snap = snap(vec![remote]);
    snap.remotes.push(RemoteView {
        host: "dev\u{1b}[2Jbox".into(),
        connected: false,
    });
    let out = render_panel(&snap, NOW, &ascii(), PanelStyle::Plain);
    assert!(out.contains("dev [2Jbox: not connected over ssh"), "{out}");
    assert!(out.contains("on dev [2Jbox  unreachable"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
}
