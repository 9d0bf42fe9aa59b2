#!/usr/bin/python3
"""A stand-in for the OpenCode plugin's TUI channel, for tests/jump_sway.rs.

Usage: plugin_standin.py SOCKET SESSION_ID STATE_FILE   (run inside a tmux pane)

Speaks what integrations/opencode/ocbar.tsx speaks on the daemon's socket: `tui {…}` with this
process's pid, $TMUX_PANE and $TMUX, then (bridged, no server) one session that runs and
finishes, then `focus` lines. Its focus is always `true`, as the real plugin's is: OpenCode's TUI
never turns on terminal focus reporting, so the plugin never hears a blur. Every
`{"open": ID}` the daemon sends is written to STATE_FILE and answered with
`focus {"session": ID}`, as the plugin navigates and reports. A line `finish ID` typed into its
pane runs one more turn of session ID (busy, then idle). The real plugin in a real TUI is
exercised by tests/jump_tmux.rs and tests/on_screen.rs; here what is tested is the window
manager.
"""

import json
import os
import socket
import sys
import threading

sock_path, session, state = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
f = s.makefile("rw", encoding="utf-8", newline="\n")


lock = threading.Lock()


def send(line):
    with lock:
        f.write(line + "\n")
        f.flush()


def turn(sid):
    for status in ("busy", "idle"):
        send("event " + json.dumps({"directory": "/tmp", "payload": {
            "type": "session.status",
            "properties": {"sessionID": sid, "status": {"type": status}},
        }}))


def typed():
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "finish":
            turn(words[1])
            with open(state, "a") as out:
                out.write("finished " + words[1] + "\n")


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
turn(session)
send("focus " + json.dumps({"session": None, "focused": True}))
with open(state, "w") as out:
    out.write("ready\n")
threading.Thread(target=typed, daemon=True).start()
for line in f:
    msg = json.loads(line)
    if "open" in msg:
        with open(state, "a") as out:
            out.write("open " + msg["open"] + "\n")
        send("focus " + json.dumps({"session": msg["open"], "focused": True}))
