#!/usr/bin/env python3
"""A stand-in for an OpenCode 2 server, written from OpenCode 2's published protocol, for tests.

No OpenCode 2 build can be installed on the machines the tests run on (its npm packages
`@opencode/cli*` are not in the registries they reach), so this serves what ocbar reads of one,
as OpenCode 2's own source says it (anomalyco/opencode):

- `packages/protocol/src/groups/server.ts`: `GET /api/info` -> `{version, pid, urls, paths}`.
- `packages/server/src/handlers/event.ts`: `GET /api/event`, `text/event-stream`, one
  `data: <json>` per event, first `server.connected`, an SSE comment `: heartbeat` every 15 s,
  and a bounded queue of 256 events per subscriber whose overflow ends the stream.
- `packages/schema/src/event.ts`: every event is `{id, created, type, data, location, durable?}`.
- `packages/schema/src/session-event.ts`: `session.created` (flat, `parentID` for a sub-agent),
  `session.execution.started/succeeded/failed/interrupted`, `session.retry.scheduled`,
  `session.renamed`, `session.deleted`, `permission.asked/replied`, `form.created/replied`.
- `packages/protocol/src/groups/session.ts`: `GET /api/session` -> `{data, cursor}`,
  `GET /api/session/active` -> `{data:{id:{type:"running"}}}`, `GET /api/session/{id}` ->
  `{data: Session.Info}` with `outcome`, `/api/session/{id}/permission`, `/api/session/{id}/form`.
- Auth: HTTP Basic, user `opencode`; an OpenCode 2 server always has a password.
- Every other path answers the web app's HTML with status 200, as OpenCode 2 does.
- `packages/cli/src/services/*`: with `--service-file PATH` it records itself there as the
  shared background service does (`{url, pid, password, version}`, mode 0600).

Usage: opencode2_standin.py --password PW [--version 2.0.20] [--heartbeat 15]
                            [--service-file PATH] [--no-info]

Prints `STANDIN_PORTS=<api port> <control port>` (flushed). The control port (no auth,
loopback) drives it: `POST /op` with a JSON object (below) changes the state and publishes the
events a real server would; `"quiet": true` changes the state only (events lost while ocbar was
away). `GET /stats` -> `{"event_connections": n, "requests": {path: n}, "auth_failures": n}`.

  {"op":"create","id":ID,"title":T,"parentID":P?,"directory":D}
  {"op":"start","id":ID}                      session.execution.started (running)
  {"op":"succeed","id":ID}                    session.execution.succeeded (outcome succeeded)
  {"op":"fail","id":ID,"message":M}           session.execution.failed (outcome failed)
  {"op":"interrupt","id":ID,"reason":R}       session.execution.interrupted; `shutdown` keeps it
                                              running (the server resumes it) and ends streams
  {"op":"retry","id":ID,"attempt":N,"at":MS,"message":M}
  {"op":"permission","id":ID,"request":REQ}   permission.asked (OpenCode 2 shape)
  {"op":"permission_reply","id":ID,"request":REQ}
  {"op":"form","id":ID,"request":REQ}         form.created
  {"op":"form_reply","id":ID,"request":REQ}
  {"op":"rename","id":ID,"title":T}
  {"op":"tokens","id":ID,"n":N}               N session.text.delta events (token traffic)
  {"op":"overflow"}                           every subscriber's queue overflows: streams end
  {"op":"refuse","seconds":S}                 /api/event answers 503 for S seconds (a restart)
"""

import argparse
import base64
import json
import os
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUEUE_LIMIT = 256  # packages/server/src/handlers/event.ts
HTML = b"<!doctype html>\n<html lang=\"en\"><head><title>OpenCode</title></head><body><div id=\"root\"></div></body></html>\n"

args = None
lock = threading.Lock()
sessions = {}  # id -> info (Session.Info)
active = set()
permissions = {}  # id -> [request]
forms = {}  # id -> [form]
subscribers = []  # [queue.Queue]
stats = {"event_connections": 0, "requests": {}, "auth_failures": 0}
refuse_until = [0.0]
seq = [0]


def now_ms():
    return int(time.time() * 1000)


def event_id():
    seq[0] += 1
    return "evt_%013d%s" % (now_ms(), "S%09d" % seq[0])


def publish(kind, data, directory=None, aggregate=None):
    """Queue one event for every subscriber; a full queue ends that subscriber's stream."""
    ev = {"id": event_id(), "created": now_ms(), "type": kind, "data": data}
    if directory:
        ev["location"] = {"directory": directory}
    if aggregate:
        ev["durable"] = {"aggregateID": aggregate, "seq": seq[0], "version": 1}
    frame = ("data: " + json.dumps(ev, separators=(",", ":")) + "\n\n").encode()
    for q in list(subscribers):
        try:
            q.put_nowait(frame)
        except queue.Full:
            q.overflowed = True


def directory_of(sid):
    return sessions.get(sid, {}).get("location", {}).get("directory")


def apply(op):
    """Change the state as a real server would, and publish its events unless `quiet`."""
    quiet = op.get("quiet", False)
    sid = op.get("id")
    d = directory_of(sid)

    def emit(kind, data):
        if not quiet:
            publish(kind, data, d, sid)

    kind = op["op"]
    if kind == "create":
        info = {
            "id": sid,
            "slug": "brave-eagle",
            "projectID": "prj_standin",
            "title": op.get("title", "New session"),
            "location": {"directory": op["directory"]},
            "agent": op.get("agent", "build"),
            "model": {"id": "fake-model", "providerID": "fake"},
            "time": {"created": now_ms(), "updated": now_ms()},
        }
        if op.get("parentID"):
            info["parentID"] = op["parentID"]
        sessions[sid] = info
        d = op["directory"]
        flat = dict(info)
        del flat["id"]
        flat["sessionID"] = sid
        emit("session.created", flat)
    elif kind == "start":
        active.add(sid)
        sessions[sid]["time"]["updated"] = now_ms()
        emit("session.execution.started", {"sessionID": sid})
    elif kind in ("succeed", "fail"):
        active.discard(sid)
        sessions[sid]["outcome"] = "succeeded" if kind == "succeed" else "failed"
        if kind == "succeed":
            emit("session.execution.succeeded", {"sessionID": sid})
        else:
            err = {"type": "ProviderError", "message": op.get("message", "failed")}
            emit("session.execution.failed", {"sessionID": sid, "error": err})
    elif kind == "interrupt":
        reason = op.get("reason", "user")
        if reason != "shutdown":
            active.discard(sid)
            sessions[sid]["outcome"] = "interrupted"
        emit("session.execution.interrupted", {"sessionID": sid, "reason": reason})
        if reason == "shutdown":
            end_streams()
    elif kind == "retry":
        emit("session.retry.scheduled", {
            "sessionID": sid, "assistantMessageID": "msg_standin", "attempt": op["attempt"],
            "at": op["at"], "error": {"type": "RateLimited", "message": op.get("message", "")},
        })
    elif kind == "permission":
        req = {"id": op["request"], "sessionID": sid, "action": "bash", "resources": ["echo hi"],
               "source": {"type": "tool"}}
        permissions.setdefault(sid, []).append(req)
        emit("permission.asked", req)
    elif kind == "permission_reply":
        permissions[sid] = [p for p in permissions.get(sid, []) if p["id"] != op["request"]]
        emit("permission.replied", {"sessionID": sid, "requestID": op["request"], "reply": "once"})
    elif kind == "form":
        form = {"id": op["request"], "sessionID": sid, "title": "Pick one", "fields": []}
        forms.setdefault(sid, []).append(form)
        emit("form.created", {"form": form})
    elif kind == "form_reply":
        forms[sid] = [f for f in forms.get(sid, []) if f["id"] != op["request"]]
        emit("form.replied", {"id": op["request"], "sessionID": sid, "answer": {}})
    elif kind == "rename":
        sessions[sid]["title"] = op["title"]
        emit("session.renamed", {"sessionID": sid, "title": op["title"]})
    elif kind == "tokens":
        for i in range(op.get("n", 10)):
            emit("session.text.delta", {"sessionID": sid, "assistantMessageID": "msg_standin",
                                        "ordinal": 0, "delta": "token %d " % i})
    elif kind == "overflow":
        end_streams()
    elif kind == "refuse":
        refuse_until[0] = time.time() + op.get("seconds", 2)
    else:
        raise ValueError("unknown op " + kind)


def end_streams():
    """End every subscriber's stream, as an overflow of its queue does."""
    for q in list(subscribers):
        q.overflowed = True
        try:
            q.put_nowait(None)
        except queue.Full:
            pass


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        want = "Basic " + base64.b64encode(("opencode:" + args.password).encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        with lock:
            stats["auth_failures"] += 1
        self.send(401, {"_tag": "UnauthorizedError", "message": "Unauthorized"})
        return False

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        with lock:
            stats["requests"][path] = stats["requests"].get(path, 0) + 1
        if not path.startswith("/api/"):
            # The web app, for every path the API does not have (V1 routes included).
            return self.send(200, HTML, "text/html")
        if not self.authorized():
            return
        parts = path.strip("/").split("/")
        with lock:
            if path == "/api/info" and not args.no_info:
                port = self.server.server_address[1]
                return self.send(200, {"version": args.version, "pid": os.getpid(),
                                       "urls": ["http://127.0.0.1:%d" % port],
                                       "paths": {"tmp": "/tmp"}})
            if path == "/api/health":
                return self.send(200, {"healthy": True, "version": args.version,
                                       "pid": os.getpid()})
            if path == "/api/session/active":
                return self.send(200, {"data": {s: {"type": "running"} for s in sorted(active)}})
            if path == "/api/session":
                data = sorted(sessions.values(), key=lambda s: -s["time"]["updated"])
                return self.send(200, {"data": data, "cursor": {}})
            if len(parts) >= 3 and parts[:2] == ["api", "session"]:
                sid = parts[2]
                if sid not in sessions:
                    return self.send(404, {"_tag": "NotFoundError",
                                           "message": "Session not found: " + sid})
                if len(parts) == 3:
                    return self.send(200, {"data": sessions[sid]})
                if len(parts) == 4 and parts[3] == "permission":
                    return self.send(200, {"data": permissions.get(sid, [])})
                if len(parts) == 4 and parts[3] == "form":
                    return self.send(200, {"data": forms.get(sid, [])})
        if path == "/api/event":
            return self.event_stream()
        return self.send(200, HTML, "text/html")

    def do_POST(self):
        # OpenCode 2 has no /tui/* (nor any V1 route): the web app answers.
        path = self.path.split("?", 1)[0]
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        with lock:
            stats["requests"][path] = stats["requests"].get(path, 0) + 1
        self.send(200, HTML, "text/html")

    def event_stream(self):
        if time.time() < refuse_until[0]:
            return self.send(503, {"_tag": "Unavailable", "message": "starting"})
        q = queue.Queue(QUEUE_LIMIT)
        q.overflowed = False
        connected = {"id": event_id(), "type": "server.connected", "data": {}}
        with lock:
            stats["event_connections"] += 1
            subscribers.append(q)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()

        try:
            chunk(("data: " + json.dumps(connected, separators=(",", ":")) + "\n\n").encode())
            while True:
                try:
                    frame = q.get(timeout=args.heartbeat)
                except queue.Empty:
                    chunk(b": heartbeat\n\n")
                    continue
                if frame is None or q.overflowed:
                    break
                chunk(frame)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with lock:
                if q in subscribers:
                    subscribers.remove(q)
        self.close_connection = True


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            self.reply(200, stats)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        op = json.loads(self.rfile.read(n))
        try:
            with lock:
                apply(op)
        except (KeyError, ValueError) as e:
            return self.reply(400, {"error": str(e)})
        self.reply(200, {"ok": True})


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--password", required=True)
    p.add_argument("--version", default="2.0.20")
    p.add_argument("--heartbeat", type=float, default=15.0)
    p.add_argument("--service-file")
    p.add_argument("--no-info", action="store_true", help="an earlier 2.x: /api/health only")
    args = p.parse_args()
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    api.daemon_threads = True
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    port = api.server_address[1]
    if args.service_file:
        os.makedirs(os.path.dirname(args.service_file), exist_ok=True)
        fd = os.open(args.service_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"id": "svc_standin", "version": args.version,
                       "url": "http://127.0.0.1:%d" % port, "pid": os.getpid(),
                       "password": args.password}, f)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print("STANDIN_PORTS=%d %d" % (port, control.server_address[1]), flush=True)
    try:
        api.serve_forever()
    finally:
        if args.service_file:
            try:
                os.remove(args.service_file)
            except OSError:
                pass


if __name__ == "__main__":
    main()
