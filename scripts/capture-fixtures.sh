#!/usr/bin/env bash
# Re-record tests/fixtures/*.sse and tests/fixtures/http/*.json from a real OpenCode 1.18.33
# driven by the fake LLM (tests/capture_fixtures.rs, an #[ignore]d test), and refresh the scenario
# table in tests/fixtures/README.md. Takes about a minute. Review the diff before committing:
# session ids, timestamps and temp paths change on every run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export OCBAR_TOOLS="${OCBAR_TOOLS:-$repo/.tools}"
bash "$repo/scripts/install-test-deps.sh"
cargo test --test capture_fixtures -- --ignored --nocapture
ls -l tests/fixtures/*.sse tests/fixtures/http/*.json
