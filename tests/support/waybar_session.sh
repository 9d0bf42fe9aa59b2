#!/bin/sh
# A headless sway with a real waybar, for tests/bars_waybar.rs (docs/testing.md).
#
# Runs as `nobody` in a private PID namespace and D-Bus session bus, started by the test as:
#   unshare --pid --fork --kill-child --mount-proc setpriv --reuid=nobody ... \
#     env -i PATH=... HOME=$OUT OCBAR_SOCKET=... dbus-run-session -- /bin/sh waybar_session.sh $OUT
#
# $OUT (owned by nobody) holds the inputs: waybar.jsonc, style.css, bin/ocbar; and the outputs:
# sway.log, waybar.log, ready (once waybar's bar is configured), labels.jsonl (the bar's labels
# as read through AT-SPI, one line per change), and NAME.png for every shot-NAME.req the test
# drops in. The test creates $OUT/stop to end it; its exit ends the namespace and everything in it.
set -u
OUT="$1"
export XDG_RUNTIME_DIR="$OUT/xdg"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
printf 'output HEADLESS-1 resolution 1024x200 position 0,0\nxwayland disable\n' >"$OUT/sway.conf"
WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman \
    sway -c "$OUT/sway.conf" >"$OUT/sway.log" 2>&1 &
i=0
while [ ! -S "$XDG_RUNTIME_DIR/wayland-1" ]; do
    i=$((i + 1))
    if [ "$i" -gt 200 ]; then
        echo "no wayland-1 socket after 20 s" >"$OUT/failed"
        exit 1
    fi
    sleep 0.1
done
export WAYLAND_DISPLAY=wayland-1
waybar -c "$OUT/waybar.jsonc" -s "$OUT/style.css" >"$OUT/waybar.log" 2>&1 &
i=0
until grep -q "Bar configured" "$OUT/waybar.log" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
        echo "waybar did not configure its bar in 30 s" >"$OUT/failed"
        exit 1
    fi
    sleep 0.1
done
exec /usr/bin/python3 "$OUT/atspi_watch.py" "$OUT"
