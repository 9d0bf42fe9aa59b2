#!/bin/sh
# What following "on screen" in tmux costs the daemon, with real tmux: a daemon, a private tmux
# server with a client attached (in a second tmux, its terminal) and a TUI stand-in speaking the
# plugin's channel (tests/support/plugin_standin.py) in window 1.
#   - idle: the daemon's context switches (all threads) over 10 s while nothing changes;
#   - select-window 0 <-> 1, N times: time until `ocbar doctor` shows the change (the doctor
#     request itself included), min / median / max.
# Usage: scripts/on-screen-latency.sh [OCBAR_BINARY] [N]   (default target/release/ocbar, 20)
set -eu
BIN="${1:-target/release/ocbar}"
N="${2:-20}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
T="$(mktemp -d)"
cleanup() {
	tmux -S "$T/out" kill-server 2>/dev/null || true
	tmux -S "$T/in" kill-server 2>/dev/null || true
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/state" "$T/config"
printf '[notify]\nenabled = false\n[tmux]\npush = false\n' >"$T/config/config.toml"
env -u TMUX -u SWAYSOCK -u I3SOCK -u HYPRLAND_INSTANCE_SIGNATURE OCBAR_DISCOVERY=0 \
	XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" \
	"$BIN" daemon --socket "$T/ocbar.sock" --config "$T/config/config.toml" >"$T/daemon.log" 2>&1 &
DPID=$!
while [ ! -S "$T/ocbar.sock" ]; do sleep 0.05; done
tmux -S "$T/in" -f /dev/null new-session -d -s work -x 100 -y 30 "sleep 100000"
tmux -S "$T/in" new-window -t work:1 python3 "$ROOT/tests/support/plugin_standin.py" "$T/ocbar.sock" ses_m "$T/standin"
tmux -S "$T/out" -f /dev/null new-session -d -x 100 -y 31 "env -u TMUX tmux -S $T/in attach -t work"
while ! grep -q ready "$T/standin" 2>/dev/null; do sleep 0.05; done
doctor() { OCBAR_SOCKET="$T/ocbar.sock" "$BIN" doctor | grep '^tui '; }
until doctor | grep -q '(on screen: tmux work:1'; do sleep 0.05; done

switches() {
	total=0
	for f in /proc/"$DPID"/task/*/status; do
		v=$(awk '/ctxt_switches/ {s += $2} END {print s}' "$f")
		total=$((total + v))
	done
	echo "$total"
}
# Threads of tokio's blocking pool that end in between take their counts with them: let the
# start-up's end first (they linger 10 s).
sleep 12
a=$(switches)
sleep 10
b=$(switches)
echo "idle, a TUI followed in tmux: $((b - a)) daemon context switches in 10 s"

ms() { date +%s%N | cut -c1-13; }
i=0
: >"$T/lat"
while [ "$i" -lt "$N" ]; do
	w=$((i % 2))
	if [ "$w" = 0 ]; then want='(not on screen: tmux window work:1'; else want='(on screen: tmux work:1'; fi
	t0=$(ms)
	tmux -S "$T/in" select-window -t "work:$w"
	until doctor | grep -qF "$want"; do :; done
	echo $(($(ms) - t0)) >>"$T/lat"
	i=$((i + 1))
done
sort -n "$T/lat" | awk '{a[NR] = $1} END {printf "select-window -> doctor shows it, %d runs: min %d ms, median %d ms, max %d ms\n", NR, a[1], a[int((NR + 1) / 2)], a[NR]}'
