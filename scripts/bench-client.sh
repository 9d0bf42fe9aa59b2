#!/usr/bin/env bash
# The client budget, measured as whole processes: `ocbar status --format tmux` against
# `/bin/true`, the same with no daemon, and the naive alternative (`curl -s URL/session/status`
# against a real OpenCode server), side by side in one run.
#
#   bash scripts/bench-client.sh            # hyperfine, 2000 runs each, plus ocbar-load's
#                                           # interleaved fork/exec loop (1000 runs each)
#   RUNS=500 bash scripts/bench-client.sh   # quicker
#   BENCH_JSON=FILE bash scripts/bench-client.sh   # also write the medians as JSON (bench.sh)
#
# Needs: the pinned OpenCode in .tools/ (bash scripts/install-test-deps.sh), hyperfine and curl
# (apt-get install hyperfine curl). Builds the release binaries. Everything it starts (OpenCode on
# a free loopback port with a throw-away HOME, one ocbar daemon on a private socket) is stopped
# on exit. Nothing here talks to the network.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS="${RUNS:-2000}"
TOOLS="${OCBAR_TOOLS:-$PWD/.tools}"
OPENCODE="$TOOLS/bin/opencode"

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "bench-client: '$1' is missing: $2" >&2
        exit 1
    }
}
need hyperfine "apt-get install hyperfine"
need curl "apt-get install curl"
need cc "apt-get install build-essential"
[ -x "$OPENCODE" ] || {
    echo "bench-client: no OpenCode at $OPENCODE: run 'bash scripts/install-test-deps.sh' first" >&2
    exit 1
}

[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --workspace --bins --quiet
OCBAR="$PWD/target/release/ocbar"

TMP="$(mktemp -d)"
chmod 700 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
# The measuring stick: the least a client can do to ask the daemon (see the file).
cc -O2 -o "$TMP/min-client" scripts/min-client.c

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
mkdir -p "$TMP/home" "$TMP/project"
(
    cd "$TMP/project"
    env -u OPENCODE_SERVER_PASSWORD HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/home/.config" \
        XDG_DATA_HOME="$TMP/home/.local/share" XDG_STATE_HOME="$TMP/home/.local/state" \
        XDG_CACHE_HOME="$TMP/home/.cache" OPENCODE_DISABLE_AUTOUPDATE=1 \
        OPENCODE_DISABLE_MODELS_FETCH=1 OPENCODE_DISABLE_LSP_DOWNLOAD=1 \
        "$OPENCODE" serve --port "$PORT" --hostname 127.0.0.1
) >"$TMP/opencode.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
    curl -fs -m 2 "$URL/global/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs -m 5 "$URL/global/health" >/dev/null || {
    echo "bench-client: OpenCode did not start; its output:" >&2
    cat "$TMP/opencode.log" >&2
    exit 1
}

SOCK="$TMP/run/ocbar.sock"
mkdir -p "$TMP/run" && chmod 700 "$TMP/run"
OCBAR_DISCOVERY=0 XDG_STATE_HOME="$TMP/state" XDG_CONFIG_HOME="$TMP/config" \
    "$OCBAR" daemon --server "$URL" --socket "$SOCK" 2>"$TMP/daemon.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
    "$OCBAR" status --format tmux --socket "$SOCK" >/dev/null 2>&1 && [ -S "$SOCK" ] && break
    sleep 0.05
done

echo "## machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OpenCode $("$OPENCODE" --version 2>/dev/null || echo '?')"
echo "## ocbar status --format tmux answers: '$("$OCBAR" status --format tmux --socket "$SOCK")'"
echo
hyperfine -N --warmup 100 --runs "$RUNS" --export-json "$TMP/hyperfine.json" \
    -n '/bin/true' '/bin/true' \
    -n 'ocbar status --format tmux' "$OCBAR status --format tmux --socket $SOCK" \
    -n 'ocbar status (no daemon)' "$OCBAR status --format tmux --socket $TMP/run/none.sock" \
    -n 'curl -s URL/session/status' "curl -s $URL/session/status" \
    -n 'minimal C client (scripts/min-client.c)' "$TMP/min-client $SOCK"
echo
# Means are pulled up by the odd descheduled run on a shared VM: the budget is read on medians.
echo "## hyperfine medians"
python3 - "$TMP/hyperfine.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
for r in results:
    print(f"{r['command']:<30} median {r['median'] * 1e3:7.3f} ms  {r['median'] / base:5.2f}x /bin/true")
PY
echo
echo "## ocbar-load: the same, interleaved fork/exec (machine load hits every command alike)"
"$PWD/target/release/ocbar-load" --sessions 20 --secs 1 --idle-secs 0.5 --probes 5 \
    --clients 0 --seq-queries 0 --burst 0 --floor-secs 0 --spawn-runs "$((RUNS / 2))" \
    --curl-url "$URL" --json >"$TMP/spawn.json"
python3 - "$TMP/spawn.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["spawn"]:
    print(f"{s['command']:<62} median {s['median_ms']:7.3f} ms  {s['ratio']:5.2f}x /bin/true")
PY
if [ -n "${BENCH_JSON:-}" ]; then
    python3 - "$TMP/hyperfine.json" "$TMP/spawn.json" >"$BENCH_JSON" <<'PY'
import json, sys
h = [r["median"] * 1e3 for r in json.load(open(sys.argv[1]))["results"]]
s = [r["median_ms"] for r in json.load(open(sys.argv[2]))["spawn"]]
keys = ["true_ms", "ocbar_ms", "down_ms", "curl_ms", "min_client_ms"]
print(json.dumps({"hyperfine": dict(zip(keys, h)), "interleaved": dict(zip(keys, s))}))
PY
fi
