//! The fuzz targets' checks (fuzz/src/*.rs) on the stable toolchain, in the normal test run:
//! every recorded OpenCode stream (tests/fixtures/*.sse), every seed (fuzz/seeds/) and every
//! input that once failed (fuzz/regressions/) goes through the same bodies libFuzzer runs
//! (`scripts/fuzz.sh`). A new finding is fixed, then its input is added under
//! fuzz/regressions/TARGET/ so it stays fixed.

// The fuzz crate's modules by `#[path]`, not as a dependency: `fuzz/` is its own workspace on
// purpose (cargo-fuzz, libFuzzer's `main` from libfuzzer-sys, nightly), which no stable build of
// this package should pull in. These files only use `ocbar`'s public API, so they compile here
// unchanged, and the fuzzer and this test run one copy of each check.
#[path = "../fuzz/src/bars.rs"]
mod bars;
#[path = "../fuzz/src/model.rs"]
mod model;
#[path = "../fuzz/src/protocol.rs"]
mod protocol;
#[path = "../fuzz/src/sse.rs"]
mod sse;

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Run `target` on every file of `dirs`; returns how many ran.
fn replay(dirs: &[&str], target: fn(&[u8])) -> usize {
    let mut n = 0;
    for dir in dirs {
        for f in files(dir) {
            let data = std::fs::read(&f).unwrap();
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "{} fails its fuzz target", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn recorded_streams_pass_the_model_and_framing_checks() {
    let fixtures = files("tests/fixtures");
    let streams: Vec<&PathBuf> = fixtures
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sse"))
        .collect();
    assert!(!streams.is_empty(), "no tests/fixtures/*.sse");
    for f in streams {
        let body = std::fs::read(f).unwrap();
        model::run(&body);
        // Every frame limit, and chunkings from a few seeds.
        for (limit, cut) in [(4u8, 7u8), (4, 200), (3, 1), (0, 9)] {
            let mut input = vec![limit, cut];
            input.extend_from_slice(&body);
            sse::run(&input);
        }
        // The same stream with a gap in the middle: disconnect, resync, outcomes.
        let text = String::from_utf8_lossy(&body);
        let frames: Vec<&str> = text.split("\n\n").collect();
        let (a, b) = frames.split_at(frames.len() / 2);
        let gap =
            "!disconnect\n!time 30000\n!connect\n!resync\n!tick\n!restart\n!connect\n!resync\n";
        let mixed = format!(
            "{}\n\n{gap}{}\n\n!seen *\n!time 7200000\n!tick\n",
            a.join("\n\n"),
            b.join("\n\n")
        );
        model::run(mixed.as_bytes());
    }
}

#[test]
fn seeds_and_past_findings_pass_their_fuzz_targets() {
    let n = replay(
        &["fuzz/seeds/sse_decode", "fuzz/regressions/sse_decode"],
        sse::run,
    ) + replay(
        &["fuzz/seeds/protocol", "fuzz/regressions/protocol"],
        protocol::run,
    ) + replay(&["fuzz/seeds/model", "fuzz/regressions/model"], model::run);
    assert!(n >= 10, "only {n} inputs found");
}
