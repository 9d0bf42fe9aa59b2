#!/bin/sh
# A bare headless sway for tests/docs_pictures.rs: the test itself runs `foot` and `grim` on
# its Wayland socket ($OUT/xdg/wayland-1). Runs as `nobody` in a private PID namespace (sway
# refuses root), started like tests/support/waybar_session.sh:
#   unshare --pid --fork --kill-child --mount-proc setpriv --reuid=nobody ... \
#     env -i PATH=... HOME=$OUT /bin/sh docs_sway_session.sh $OUT WIDTHxHEIGHT
# Writes $OUT/sway.sock (SWAYSOCK) and $OUT/ready, or $OUT/failed with the reason; ends when
# the test creates $OUT/stop; its exit ends the namespace and everything in it.
set -u
OUT="$1"
export XDG_RUNTIME_DIR="$OUT/xdg"
mkdir -m 0700 "$XDG_RUNTIME_DIR"
printf 'output HEADLESS-1 resolution %s position 0,0\nxwayland disable\ndefault_border none\n' "$2" >"$OUT/sway.conf"
WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1 WLR_RENDERER=pixman \
	sway -c "$OUT/sway.conf" >"$OUT/sway.log" 2>&1 &
i=0
until [ -S "$XDG_RUNTIME_DIR/wayland-1" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then
		echo "no wayland-1 socket after 20 s" >"$OUT/failed"
		exit 1
	fi
	sleep 0.1
done
SWAYSOCK="$(ls "$XDG_RUNTIME_DIR"/sway-ipc.*.sock 2>/dev/null | head -1)"
[ -S "$SWAYSOCK" ] || { echo "no sway IPC socket" >"$OUT/failed"; exit 1; }
ln -s "$SWAYSOCK" "$OUT/sway.sock"
touch "$OUT/ready"
while [ ! -e "$OUT/stop" ]; do sleep 0.2; done
