//! Test support for end-to-end tests against a REAL OpenCode server driven by a fake LLM.
//!
//! Use it from a test file with `mod common;` (this is a module, not a test of its own).
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! #[test]
//! fn finishes() {
//!     let env = shared_env();                    // fake LLM + one OpenCode, started on first use
//!     let oc = &env.oc;
//!     let dir = oc.dir(0);
//!     let sid = oc.create_session(dir, Some("alpha"));
//!     oc.prompt(dir, &sid, "hello [slow 2]");
//!     assert!(oc.wait_status(dir, &sid, "busy", secs(40)));
//!     assert!(oc.wait_status(dir, &sid, "idle", secs(60)));
//! }
//! ```
//!
//! What is here, one module per job (everything is re-exported here, so `use common::*` works):
//! - `tools`: [`tools_dir`], [`require_tool`]: the programs installed by
//!   `scripts/install-test-deps.sh` (`$OCBAR_TOOLS/bin`, default `.tools/bin`) or on `PATH`,
//!   by path. A missing tool FAILS the test.
//! - `time`: [`secs`], [`now_ms`], and waiting for a condition: [`wait_until`] answers whether
//!   it held in time, [`wait_or_fail`] fails the test naming what did not happen.
//! - `process`: [`spawn_owned`] (children that die with the test process), [`free_port`].
//! - `tempdir`: temp dirs swept by the next test process when a static kept them.
//! - `slots`: the machine-wide bound on OpenCode servers running at once.
//! - `fake_llm`: [`FakeLlm`], `tests/support/fake_llm.py` (keywords `[slow N]`, `[retry N]`,
//!   `[fail]`, `[task]`, `[bash]`, `[question]`, `[title=TEXT]` in the prompt steer it; see the
//!   script).
//! - `opencode`: [`OpenCode`], `opencode serve` on 127.0.0.1 with isolated HOME/XDG dirs, one or
//!   more project directories (each with an `opencode.json` pointing at the fake LLM), optional
//!   `"permission": {"bash": "ask"}` and optional server password. Blocking HTTP helpers, all
//!   scoped with `?directory=` and authenticated when a password is set. `restart()`, `kill()`
//!   and `start_again()` on the same port for fault tests.
//! - `opencode2`: [`OpenCode2`], the OpenCode 2 stand-in (`tests/support/opencode2_standin.py`,
//!   written from OpenCode 2's published protocol; its header cites the source files): Basic
//!   auth, `/api/info`, `/api/event` with `: heartbeat` comments and a bounded queue whose
//!   overflow ends the stream, sessions, permissions and forms; driven through `op(json)`.
//! - `env`: [`Env`] (a fake LLM and an OpenCode using it) and [`shared_env`].
//! - `event_log`: [`EventLog`], a recorder of `GET /global/event` (raw lines and parsed
//!   envelopes).
//! - `notified`: [`NotifyLog`], every notification a daemon sends, through its `[notify] command`.
//! - `encode`: [`base64`], [`percent_encode`].
//! - `tui`: [`install_plugin`] (`ocbar install opencode-plugin` into an isolated home) and
//!   [`tui_env`] (the environment of a TUI with that home and the test's daemon).
//! - [`sshd`]: a real OpenSSH server on loopback and an ssh client config naming it (the
//!   remote-machine tests' "dev box"; used by its path, `common::sshd`).
//! - [`tmux`]: a private tmux server whose panes run real TUIs (used by its path, `common::tmux`).
//!
//! Timing. `scripts/test.sh` runs many test processes at once on 2 cores, so be generous: a
//! server starts in 2–3 s on a quiet machine and 4–9 s under load; the FIRST prompt in each
//! project dir takes several seconds before the model is even asked (OpenCode loads its provider
//! plugins then); `prompt()` returns before the session is busy. Wait for states with timeouts
//! of 40–60 s, never sleep a fixed time. To abort "mid-stream", prompt `[slow 30]` and abort after
//! the first `message.part.delta`: an abort before the model answered emits no `session.error`
//! (see tests/fixtures/README.md), and a short turn may finish before the abort on a busy machine.
//!
//! Costs and sharing. One OpenCode server costs ~0.3–0.5 GB; the machine has 2 cores. Rules:
//! - Share a server between scenarios: give each scenario its own session (or project dir).
//!   [`shared_env`] gives a process-wide server (2 project dirs, bash "ask", no password).
//!   For other options, keep your own `static X: OnceLock<Env>` the same way.
//! - `cargo nextest` runs every `#[test]` in its OWN process, so a shared server is shared only
//!   inside one test process. To really share one server between scenarios under nextest, run
//!   them from one `#[test]` (one fn per scenario, called in sequence).
//! - At most `OCBAR_TEST_MAX_SERVERS` (default 3) servers run at once across all test processes
//!   of the machine: [`OpenCode::start`] waits for a free slot (an flock in the temp dir).
//! - Every child process (fake LLM, OpenCode) runs in its own process group and dies with the
//!   test process (PR_SET_PDEATHSIG), also for statics that are never dropped; `Drop` kills the
//!   whole group.
//! - The isolated `~/.config/opencode` is pre-seeded from `.tools/opencode-config-seed`, which
//!   saves OpenCode's own `npm install @opencode-ai/plugin` on every start (~13 s CPU, 80 MB).
#![allow(dead_code)]

mod encode;
mod env;
mod event_log;
mod fake_llm;
mod notified;
mod opencode;
mod opencode2;
mod process;
mod slots;
pub mod sshd;
mod tempdir;
mod time;
pub mod tmux;
mod tools;
mod tui;

// Each test file uses some of the kit.
#[allow(unused_imports)]
pub use {
    encode::*, env::*, event_log::*, fake_llm::*, notified::*, opencode::*, opencode2::*,
    process::*, time::*, tools::*, tui::*,
};
