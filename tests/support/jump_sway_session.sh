#!/bin/sh
# Headless sway with two foot windows, for tests/jump_sway.rs. Runs as `nobody` in a private PID
# namespace and D-Bus session (started like tests/support/waybar_session.sh):
#   $OUT/bin/ocbar     the ocbar under test (the daemon runs in here, so its pids are sway's)
#   tmux server $OUT/tmux.sock: session `first` (window 1, in the background: the TUI stand-in,
#   tests/support/plugin_standin.py), session `second`, shown by a client in foot window `term`;
#   then foot window `other`, which has focus.
# Writes $OUT/term.pid (the foot hosting the client), $OUT/sway.sock (SWAYSOCK), $OUT/ready;
# $OUT/failed with the reason if something does not come up.
set -u
OUT="$1"
export XDG_RUNTIME_DIR="$OUT/xdg"
# nobody's login shell is nologin: tmux would run every pane with it.
export SHELL=/bin/sh
mkdir -m 0700 "$XDG_RUNTIME_DIR"
fail() { echo "$*" >"$OUT/failed"; exit 1; }
wait_for() { # wait_for TENTHS DESCRIPTION COMMAND...
	n="$1"; what="$2"; shift 2
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ "$i" -gt "$n" ] && fail "$what"
		sleep 0.1
	done
}
printf 'output HEADLESS-1 resolution 1280x720 position 0,0\nxwayland disable\ndefault_border none\n' >"$OUT/sway.conf"
WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman \
	sway -c "$OUT/sway.conf" >"$OUT/sway.log" 2>&1 &
wait_for 200 "no wayland-1 socket after 20 s" test -S "$XDG_RUNTIME_DIR/wayland-1"
export WAYLAND_DISPLAY=wayland-1
SWAYSOCK="$(ls "$XDG_RUNTIME_DIR"/sway-ipc.*.sock 2>/dev/null | head -1)"
[ -S "$SWAYSOCK" ] || fail "no sway IPC socket"
export SWAYSOCK
ln -s "$SWAYSOCK" "$OUT/sway.sock"

# The daemon, as a user's session starts it: SWAYSOCK in its environment.
mkdir -p "$OUT/state" "$OUT/config"
# Notifications: one line per notified session in $OUT/notified.log.
cat >"$OUT/config/config.toml" <<EOF
[notify]
desktop = false
tmux = false
summary_window_ms = 0
command = "printf '%s\\\\n' \\"\$OCBAR_SESSION\\" >> '$OUT/notified.log'"
[tmux]
push = false
EOF
OCBAR_DISCOVERY=0 XDG_STATE_HOME="$OUT/state" XDG_CONFIG_HOME="$OUT/config" \
	"$OUT/bin/ocbar" daemon --socket "$OUT/ocbar.sock" --config "$OUT/config/config.toml" \
	>"$OUT/daemon.log" 2>&1 &
wait_for 100 "the daemon did not start" test -S "$OUT/ocbar.sock"
chmod 0666 "$OUT/ocbar.sock"

T="tmux -S $OUT/tmux.sock"
$T -f /dev/null new-session -d -s first -x 100 -y 30 "sleep 100000" || fail "tmux"
$T new-window -t first:1 /usr/bin/python3 "$OUT/plugin_standin.py" "$OUT/ocbar.sock" ses_sway "$OUT/standin.state"
$T select-window -t first:0
$T new-session -d -s second -x 100 -y 30 "sleep 100000"
wait_for 100 "the stand-in did not connect" grep -q ready "$OUT/standin.state"

foot -T term $T attach -t second >"$OUT/foot-term.log" 2>&1 &
echo $! >"$OUT/term.pid"
wait_for 100 "no tmux client in foot" sh -c "$T list-clients | grep -q ."
foot -T other sleep 100000 >"$OUT/foot-other.log" 2>&1 &
echo $! >"$OUT/other.pid"
wait_for 100 "foot window other not focused" sh -c "swaymsg -t get_tree | grep -q '\"name\": \"other\"'"
touch "$OUT/ready"
while [ ! -e "$OUT/stop" ]; do sleep 0.2; done
