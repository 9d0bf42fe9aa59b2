//! The layout's rules, checked on the source (see docs/architecture.md):
//!
//! - data flows one way: no two modules import each other through a cycle;
//! - the pure core (`model`, `render`, `wire`, `text`, `server_url`) does no I/O, reads no clock
//!   and knows nothing of the daemon or the client;
//! - the client side (`client`) depends only on what both ends share (`wire`, `paths`,
//!   `server_url`, `text`, `opencode_config`, `atomic_file`), never on the daemon;
//! - only `main.rs` starts the daemon.
//!
//! A module here is a top-level module (`model`, `client`, …) or a direct child of `daemon`
//! (`daemon::serve`, …). Dependencies are read from `crate::…` paths outside comments and
//! `#[cfg(test)]` modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to, at the granularity of the rules.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [d, child, ..] if d == "daemon" => format!("daemon::{child}"),
        [first, ..] => first.clone(),
        [] => "lib".into(),
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests { … }`.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `code` names through `crate::…`.
fn targets(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segs = path.split("::").filter(|s| !s.is_empty());
        let Some(first) = segs.next() else { continue };
        if first == "log" {
            continue; // the log! macro, exported at the crate root
        }
        match (first, segs.next()) {
            ("daemon", Some(child))
                if child.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
            {
                out.insert(format!("daemon::{child}"))
            }
            (m, _) => out.insert(m.to_string()),
        };
    }
    out
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    code: BTreeMap<String, String>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        let text = std::fs::read_to_string(&f).expect("read");
        let c = code_of(&text);
        let mut t = targets(&c);
        // `super::x` from a direct child of daemon/ names a sibling.
        if m.starts_with("daemon::") && f.parent().is_some_and(|p| p.ends_with("daemon")) {
            for (i, _) in c.match_indices("super::") {
                let name: String = c[i + 7..]
                    .chars()
                    .take_while(|ch| ch.is_ascii_lowercase() || *ch == '_')
                    .collect();
                if !name.is_empty() {
                    t.insert(format!("daemon::{name}"));
                }
            }
        }
        t.retain(|x| x != &m && !m.starts_with(&format!("{x}::")));
        edges.entry(m.clone()).or_default().extend(t);
        code.entry(m).or_default().push_str(&c);
    }
    Graph { edges, code }
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(g: &Graph, start: &str) -> Option<Vec<String>> {
    fn walk(
        g: &Graph,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in g.edges.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(g, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_module_imports_itself_through_a_cycle() {
    let g = graph();
    assert!(
        g.edges.len() > 10,
        "the source was not read: {:?}",
        g.edges.keys()
    );
    for m in g.edges.keys() {
        if let Some(c) = cycle_from(&g, m) {
            panic!("import cycle: {} -> {m}", c.join(" -> "));
        }
    }
}

#[test]
fn the_pure_core_does_no_io_and_knows_no_daemon() {
    let g = graph();
    for m in ["model", "render", "wire", "text", "server_url"] {
        let deps = &g.edges[m];
        for bad in ["daemon", "client", "paths"] {
            assert!(
                !deps
                    .iter()
                    .any(|d| d == bad || d.starts_with(&format!("{bad}::"))),
                "{m} must not depend on {bad}: {deps:?}"
            );
        }
        let code = &g.code[m];
        for io in [
            "tokio",
            "std::fs",
            "std::net",
            "std::process",
            "Utc::now",
            "SystemTime::now",
            "Instant::now",
        ] {
            assert!(!code.contains(io), "{m} is pure but uses {io}");
        }
    }
}

#[test]
fn the_client_depends_only_on_the_shared_contract() {
    let g = graph();
    let allowed = [
        "wire",
        "paths",
        "server_url",
        "text",
        "opencode_config",
        "atomic_file",
    ];
    for d in &g.edges["client"] {
        assert!(allowed.contains(&d.as_str()), "client depends on {d}");
    }
}

#[test]
fn only_main_starts_the_daemon() {
    let g = graph();
    for (m, deps) in &g.edges {
        if m == "main" || m == "lib" || m.starts_with("daemon") {
            continue;
        }
        assert!(
            !deps.iter().any(|d| d.starts_with("daemon")),
            "{m} depends on the daemon: {deps:?}"
        );
    }
}

#[test]
fn the_daemon_does_not_use_the_client() {
    let g = graph();
    for (m, deps) in &g.edges {
        if m == "daemon" || m.starts_with("daemon::") {
            assert!(
                !deps.contains("client"),
                "{m} depends on the client: {deps:?}"
            );
        }
    }
}
