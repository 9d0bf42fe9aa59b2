#!/usr/bin/env bash
# Run ocbar's fuzz targets (cargo-fuzz + libFuzzer; the crate is fuzz/, its own workspace).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]      default: all targets, 60 s each
#
# Targets: sse_decode  protocol  model  render  (what each checks: fuzz/src/*.rs, README
# "Reliability and security"). The corpus grows in fuzz/corpus/TARGET (seeded from the recorded
# OpenCode streams tests/fixtures/*.sse and fuzz/seeds/TARGET); a crash or a broken invariant
# is saved in fuzz/artifacts/TARGET/ and makes this script exit 1. Replay one with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…      (or without +nightly and
#   RUSTC_BOOTSTRAP=1, as below)
#
# Toolchain: libFuzzer needs nightly compiler flags. A `nightly` rustup toolchain is used when
# there is one; otherwise the stable one with RUSTC_BOOTSTRAP=1 (works: stable ships the
# sanitizer runtimes too). cargo-fuzz is installed from crates.io when missing.
# Environment: FUZZ_SANITIZER (cargo-fuzz's default `address`; `none` runs ~2x faster, the
# code being safe Rust), FUZZ_CARGO_ARGS (more `cargo fuzz run` flags, e.g.
# --debug-assertions), FUZZ_JOBS (parallel libFuzzer workers per target, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(sse_decode protocol model render)
target=${1:-all}
seconds=${2:-60}
if [[ $target == all ]]; then
    targets=("${all[@]}")
else
    [[ " ${all[*]} " == *" $target "* ]] || { echo "fuzz.sh: unknown target '$target' (${all[*]})" >&2; exit 2; }
    targets=("$target")
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
sanitizer=${FUZZ_SANITIZER:-address}
read -r -a cargo_args <<<"${FUZZ_CARGO_ARGS:-}"
jobs=${FUZZ_JOBS:-1}

# Seeds: the recorded streams, whole and with the noise taken out (small, dense inputs the
# fuzzer mutates faster), and for `model` with shell operations after them.
python3 - "${targets[@]}" <<'PY'
import glob, json, os, re, sys

WANTED = {"server.connected", "server.heartbeat", "session.status", "session.error",
          "session.created", "session.updated", "session.deleted", "message.updated",
          "permission.asked", "question.asked", "permission.replied", "question.replied",
          "question.rejected", "server.instance.disposed", "global.disposed"}
targets = sys.argv[1:]
fixtures = sorted(glob.glob("tests/fixtures/*.sse"))

def frames(text):
    return [f for f in text.split("\n\n") if f.strip()]

def kind(frame):
    m = re.search(r'"type":"([^"]+)"', frame)
    return m.group(1) if m else None

def write(target, name, data):
    d = os.path.join("fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "seed-" + name)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)

for path in fixtures:
    base = os.path.basename(path)[:-4]
    text = open(path, encoding="utf-8").read()
    fs = frames(text)
    dense = [f for f in fs if kind(f) in WANTED]
    dense_text = "\n\n".join(dense) + "\n\n"
    sids = sorted(set(re.findall(r'ses_[A-Za-z0-9]+', dense_text)))
    if "sse_decode" in targets:
        write("sse_decode", base + "-dense", b"\x04\x07" + dense_text.encode())
        write("sse_decode", base + "-crlf", b"\x03\x2a" + dense_text.replace("\n", "\r\n").encode())
        for i in range(0, len(fs), 25):
            chunk = "\n\n".join(fs[i:i + 25]) + "\n\n"
            write("sse_decode", f"{base}-{i}", b"\x04" + bytes([i % 256]) + chunk.encode()[:16000])
    if "model" in targets:
        write("model", base + "-dense", dense_text.encode())
        half = "\n\n".join(dense[: len(dense) // 2]) + "\n\n"
        rest = "\n\n".join(dense[len(dense) // 2:]) + "\n\n"
        tail = "".join(f"!outcome {s} i\n!seen {s}\n" for s in sids)
        gap = f"!disconnect\n!time 30000\n!connect\n!resync {' '.join('+' + s for s in sids)}\n"
        write("model", base + "-gap", (half + gap + tail + "!tick\n!restart\n" + rest).encode())
        write("model", base + "-focus", ("!focus 1 " + (sids[0] if sids else "-") + " 1\n" + dense_text
                                          + "!time 70000\n!tick\n!restart\n").encode())
    if "protocol" in targets:
        for f in dense[:3]:
            body = f.split("data:", 1)[-1].strip()
            write("protocol", f"{base}-event-{kind(f)}", ("event " + body).encode())
PY

mkdir -p fuzz/artifacts
status=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    seeds=()
    [[ -d fuzz/seeds/$t ]] && seeds+=("fuzz/seeds/$t")
    [[ -d fuzz/regressions/$t ]] && seeds+=("fuzz/regressions/$t")
    dict=()
    [[ -f fuzz/dict/$t.dict ]] && dict=("-dict=fuzz/dict/$t.dict")
    par=()
    [[ $jobs -gt 1 ]] && par=(-jobs="$jobs" -workers="$jobs")
    case $t in
        sse_decode) max_len=16384 ;;
        model) max_len=4096 ;; # the seeds are longer: cut, they still parse, and runs are faster
        protocol) max_len=4200 ;;
        *) max_len=4096 ;;
    esac
    log="fuzz/artifacts/$t.log"
    started="fuzz/artifacts/.$t.started"
    touch "$started"
    echo "fuzz.sh: $t for ${seconds}s (log: $log)" >&2
    set +e
    cargo "${toolchain[@]}" fuzz run --sanitizer "$sanitizer" "${cargo_args[@]}" "$t" \
        "fuzz/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${par[@]}" "${dict[@]}" >"$log" 2>&1
    rc=$?
    set -e
    # With -jobs, each worker logs to fuzz-N.log in the working directory.
    if [[ $jobs -gt 1 ]]; then cat fuzz-*.log >>"$log" 2>/dev/null || true; rm -f fuzz-*.log; fi
    runs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    crashes=$(find "fuzz/artifacts/$t" -type f -newer "$started" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    line="$t: $runs executions in ${seconds}s, corpus $corpus inputs, new findings $crashes, exit $rc"
    summary+=("$line")
    if [[ $rc -ne 0 ]]; then
        status=1
        grep -m5 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" >&2 || tail -20 "$log" >&2
    fi
done
printf '%s\n' "${summary[@]}"
exit $status
