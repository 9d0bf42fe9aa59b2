//! A fake LLM and an OpenCode server together, and the one shared per test process.

use std::sync::OnceLock;

use super::{FakeLlm, OpenCode, Options};

/// A fake LLM and an OpenCode server using it.
pub struct Env {
    pub llm: FakeLlm,
    pub oc: OpenCode,
}

impl Env {
    pub fn start(opts: Options) -> Env {
        let llm = FakeLlm::start();
        let oc = OpenCode::start(&llm, opts);
        Env { llm, oc }
    }
}

/// One [`Env`] per test process: 2 project dirs (`proj-a`, `proj-b`), `bash: ask`, no password.
/// Started on first use; dies with the process. Give each test its own session(s).
pub fn shared_env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env::start(Options::default().dirs(2).bash_ask()))
}
