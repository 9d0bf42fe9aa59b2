#!/usr/bin/python3
"""A stand-in for the OpenCode plugin's TUI channel, for tests/jump_sway.rs.

Usage: plugin_standin.py SOCKET SESSION_ID STATE_FILE   (run inside a tmux pane)

Speaks what integrations/opencode/ocbar.tsx speaks on the daemon's socket: `tui {…}` with this
process's pid, $TMUX_PANE and $TMUX, then (bridged, no server) one session that runs and
finishes, then `focus` lines. Every `{"open": ID}` the daemon sends is written to STATE_FILE and
answered with `focus {"session": ID}`, as the plugin navigates and reports. The real plugin in a
real TUI is exercised by tests/jump_tmux.rs; here what is tested is the window manager.
"""

import json
import os
import socket
import sys

sock_path, session, state = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
f = s.makefile("rw", encoding="utf-8", newline="\n")


def send(line):
    f.write(line + "\n")
    f.flush()


send("tui " + json.dumps({
    "tui": str(os.getpid()),
    "pid": os.getpid(),
    "tmux_pane": os.environ.get("TMUX_PANE"),
    "tmux": os.environ.get("TMUX"),
    "directory": "/tmp",
    "server": None,
}))
hello = json.loads(f.readline())
assert hello.get("hello") == "ocbar", hello
reply = json.loads(f.readline())
assert str(reply.get("ok", "")).startswith("bridge "), reply
for status in ("busy", "idle"):
    send("event " + json.dumps({"directory": "/tmp", "payload": {
        "type": "session.status",
        "properties": {"sessionID": session, "status": {"type": status}},
    }}))
send("focus " + json.dumps({"session": None, "focused": False}))
with open(state, "w") as out:
    out.write("ready\n")
for line in f:
    msg = json.loads(line)
    if "open" in msg:
        with open(state, "a") as out:
            out.write("open " + msg["open"] + "\n")
        send("focus " + json.dumps({"session": msg["open"], "focused": True}))
