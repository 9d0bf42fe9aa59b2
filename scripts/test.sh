#!/usr/bin/env bash
# The whole test suite, one command:   scripts/test.sh [extra nextest/cargo-test args]
# Installs the real programs the end-to-end tests drive (scripts/install-test-deps.sh), then runs
# every test. A missing tool fails its test (it is never skipped). Exits non-zero on failure.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export OCBAR_TOOLS="${OCBAR_TOOLS:-$repo/.tools}"

bash "$repo/scripts/install-test-deps.sh"

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --workspace --no-fail-fast "$@"
else
    echo "test.sh: cargo-nextest not found, falling back to cargo test" >&2
    exec cargo test --workspace --no-fail-fast "$@"
fi
