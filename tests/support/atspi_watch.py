#!/usr/bin/python3
"""Record waybar's label texts through AT-SPI; take grim screenshots on request.

Usage: atspi_watch.py OUT   (inside the D-Bus session and Wayland session of waybar_session.sh)

- Every 40 ms, walks Atspi.get_desktop(0) -> the application "waybar" -> every node with role
  LABEL, and appends {"t": epoch_ms, "labels": [names...]} to OUT/labels.jsonl when the list
  changed (the label's accessible name is its text with the Pango markup already applied).
- For every OUT/shot-NAME.req: grim -g "0,0 1024x30" OUT/NAME.png, then removes the request.
- Writes OUT/ready once waybar is visible on the bus; exits when OUT/stop exists.
"""

import glob
import json
import os
import subprocess
import sys
import time

import gi

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi  # noqa: E402

OUT = sys.argv[1]


def labels_of(node, out, depth=0):
    if node is None or depth > 40:
        return
    try:
        role = node.get_role()
    except Exception:
        return
    if role == Atspi.Role.LABEL:
        try:
            out.append(node.get_name() or "")
        except Exception:
            pass
    try:
        n = node.get_child_count()
    except Exception:
        return
    for i in range(n):
        try:
            child = node.get_child_at_index(i)
        except Exception:
            continue
        labels_of(child, out, depth + 1)


def waybar_app():
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        app = desktop.get_child_at_index(i)
        try:
            if app is not None and app.get_name() == "waybar":
                return app
        except Exception:
            continue
    return None


def write_line(path, obj):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def main():
    labels_path = os.path.join(OUT, "labels.jsonl")
    app = None
    deadline = time.time() + 30
    while app is None:
        app = waybar_app()
        if app is None:
            if time.time() > deadline:
                with open(os.path.join(OUT, "failed"), "w") as f:
                    f.write("waybar never showed up on the AT-SPI bus\n")
                return 1
            time.sleep(0.1)
    with open(os.path.join(OUT, "ready"), "w") as f:
        f.write("ready\n")
    last = None
    while not os.path.exists(os.path.join(OUT, "stop")):
        found = []
        try:
            Atspi.Accessible.clear_cache(app)
        except Exception:
            pass
        labels_of(app, found)
        if found != last:
            write_line(labels_path, {"t": int(time.time() * 1000), "labels": found})
            last = found
        for req in sorted(glob.glob(os.path.join(OUT, "shot-*.req"))):
            name = os.path.basename(req)[len("shot-"):-len(".req")]
            png = os.path.join(OUT, name + ".png")
            r = subprocess.run(["grim", "-g", "0,0 1024x30", png + ".tmp"], capture_output=True)
            if r.returncode == 0:
                os.rename(png + ".tmp", png)
            else:
                with open(os.path.join(OUT, name + ".err"), "w") as f:
                    f.write(r.stderr.decode(errors="replace"))
            os.remove(req)
        time.sleep(0.04)
    return 0


if __name__ == "__main__":
    sys.exit(main())
