#!/usr/bin/env python3
"""Print a recorded /global/event stream (tests/fixtures/*.sse) as one compact line per event.

    python3 tests/support/sse_summary.py tests/fixtures/retry.sse [--all]

Without --all, the noise a daemon drops is hidden (sync, message.part.delta/updated, heartbeats,
plugin/catalog/reference/integration updates, session.diff); their counts are printed at the end.
"""
import json
import sys
from collections import Counter

NOISE = {"sync", "message.part.delta", "message.part.updated", "server.heartbeat", "plugin.added",
         "catalog.updated", "reference.updated", "integration.updated", "session.diff", "todo.updated",
         "lsp.updated", "vcs.branch.updated"}


def short(x, n=6):
    return (x or "-")[-n:]


def line(env):
    p = env["payload"]
    t = p["type"]
    pr = p.get("properties", {})
    d = env.get("directory", "")
    d = d.rsplit("/", 1)[-1] if d else "(none)"
    if t in ("session.created", "session.updated", "session.deleted"):
        i = pr["info"]
        s = "ses..%s title=%r parent=%s" % (short(i["id"]), i.get("title"), short(i.get("parentID")))
    elif t == "message.updated":
        i = pr["info"]
        s = "ses..%s %s msg..%s finish=%s completed=%s error=%s" % (
            short(pr.get("sessionID")), i.get("role"), short(i.get("id")), i.get("finish"),
            "completed" in (i.get("time") or {}), (i.get("error") or {}).get("name"))
    elif t == "session.status":
        st = dict(pr["status"])
        s = "ses..%s %s" % (short(pr["sessionID"]), json.dumps(st))
    elif "sessionID" in pr:
        rest = {k: v for k, v in pr.items() if k != "sessionID"}
        s = "ses..%s %s" % (short(pr["sessionID"]), json.dumps(rest)[:150])
    else:
        s = json.dumps(pr)[:150]
    return "%-8s %-22s %s" % (d, t, s)


def main():
    show_all = "--all" in sys.argv
    path = [a for a in sys.argv[1:] if a != "--all"][0]
    hidden = Counter()
    for raw in open(path, encoding="utf-8"):
        if not raw.startswith("data:"):
            continue
        env = json.loads(raw[5:])
        t = env["payload"]["type"]
        if t in NOISE and not show_all:
            hidden[t] += 1
            continue
        print(line(env))
    if hidden:
        print("hidden:", ", ".join("%s×%d" % kv for kv in hidden.most_common()))


if __name__ == "__main__":
    main()
