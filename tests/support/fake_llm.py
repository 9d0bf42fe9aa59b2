#!/usr/bin/env python3
"""A fake OpenAI-compatible LLM for driving a real OpenCode server in tests.

Python 3 standard library only. Usage:

    python3 fake_llm.py [PORT]        # PORT 0 (default) picks a free port

Once listening on 127.0.0.1 it prints ``FAKE_LLM_PORT=<port>`` on stdout (flushed).
Set ``FAKE_LLM_LOG=/path/file.jsonl`` to append every request body (one JSON per line).

Endpoints:
  GET  /v1/models              -> one model, ``fake-model``
  POST /v1/chat/completions    -> a streamed (SSE) or plain chat completion

Behaviour is steered by keywords in the text of the LAST USER message, so one fake serves
every scenario of a test file:

  [slow N]      stream the reply for about N seconds (one chunk per 0.5 s); default is fast
  [pause N]     wait N seconds before answering at all (OpenCode then sends nothing: a quiet
                spell before the reply, e.g. before a [bash] permission)
  [retry N]     answer HTTP 429 (retry-after: 1) the first N times for this conversation
  [fail]        answer HTTP 400 with a JSON error body (OpenCode: session.error APIError)
  [task]        call the ``task`` tool: a sub-agent child session running "[slow 2]"
  [bash]        call the ``bash`` tool with ``echo hi`` (permission.asked with bash: ask)
  [question]    call the ``question`` tool: one question with two options
  [title=TEXT]  the generated session title is TEXT (balanced brackets may appear inside it:
                [title=#[fg=red]x] gives "#[fg=red]x"); otherwise the title is the first 4
                words of the prompt with every [keyword] removed. Only sessions that still
                have OpenCode's default title ask for one (create them without a title).

When the last message is a tool result, the reply is plain text so that the turn ends.
Requests without ``tools`` come from OpenCode's title generator and are answered at once.
"""

import hashlib
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "fake-model"
LOG_PATH = os.environ.get("FAKE_LLM_LOG")
_lock = threading.Lock()
_retry_counts = {}  # conversation key -> number of 429 answers already given
_call_seq = [0]

KEYWORD_RE = re.compile(r"\[[^\]]*\]")


def log_request(body):
    if not LOG_PATH:
        return
    with _lock:
        with open(LOG_PATH, "a", encoding="utf-8") as f:
            f.write(json.dumps(body) + "\n")


def content_text(content):
    """The text of an OpenAI message ``content`` (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append(part.get("text", ""))
            elif isinstance(part, str):
                out.append(part)
        return "\n".join(out)
    return str(content)


def last_user_text(messages):
    for m in reversed(messages):
        if m.get("role") == "user":
            return content_text(m.get("content"))
    return ""


def explicit_title(text):
    """The TEXT of ``[title=TEXT]``; brackets inside TEXT are fine when balanced
    (``[title=#[fg=red]boom]`` gives ``#[fg=red]boom``)."""
    start = text.find("[title=")
    if start < 0:
        return None
    depth = 0
    for i in range(start + len("[title="), len(text)):
        c = text[i]
        if c == "[":
            depth += 1
        elif c == "]":
            if depth == 0:
                return text[start + len("[title="):i]
            depth -= 1
    return text[start + len("[title="):]


def strip_keywords(text):
    """Remove every ``[...]`` keyword, including a ``[title=...]`` with nested brackets."""
    t = explicit_title(text)
    if t is not None:
        text = text.replace("[title=" + t + "]", " ")
    return KEYWORD_RE.sub(" ", text)


def title_for(prompt_text):
    t = explicit_title(prompt_text)
    if t is not None:
        return t
    words = strip_keywords(prompt_text).split()
    return " ".join(words[:4]) or "Untitled"


def title_prompt_text(messages):
    """The user's prompt as carried inside a title-generator request.

    OpenCode 1.18.33 sends: system (title instructions), user "Generate a title for this
    conversation:\\n", then the user's own message(s). The last user message is the prompt.
    """
    texts = [content_text(m.get("content")) for m in messages if m.get("role") == "user"]
    texts = [t for t in texts if t.strip() and not t.startswith("Generate a title for this conversation")]
    if texts:
        return texts[-1]
    return last_user_text(messages)


def chunk(delta, finish=None, usage=None):
    _call_seq[0] += 1
    obj = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def tool_call_args(name, tools, user_text):
    if name == "task":
        return {
            "description": "child job",
            "prompt": "do the child thing [slow 2]",
            "subagent_type": "general",
        }
    if name == "bash":
        return {"command": "echo hi", "description": "say hi"}
    if name == "question":
        return {
            "questions": [
                {
                    "question": "Pick one?",
                    "header": "Pick",
                    "options": [
                        {"label": "A", "description": "the first option"},
                        {"label": "B", "description": "the second option"},
                    ],
                }
            ]
        }
    raise ValueError(name)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        if os.environ.get("FAKE_LLM_VERBOSE"):
            sys.stderr.write("fake_llm: " + (fmt % args) + "\n")

    # -- helpers -----------------------------------------------------------------------
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def emit(self, obj):
        payload = obj if isinstance(obj, str) else json.dumps(obj)
        self.wfile.write(("data: " + payload + "\n\n").encode())
        self.wfile.flush()

    # -- routes ------------------------------------------------------------------------
    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "fake"}]})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "not_found"}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
            return
        log_request(body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": "not found", "type": "not_found"}})
            return
        try:
            self.complete(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # OpenCode aborted the stream (user abort): fine

    def complete(self, body):
        messages = body.get("messages") or []
        stream = bool(body.get("stream"))
        tools = body.get("tools") or []

        if not tools:
            # OpenCode's title generator (and any other tool-less helper call): answer at once.
            self.reply_text(title_for(title_prompt_text(messages)), stream)
            return

        user_text = last_user_text(messages)
        last = messages[-1] if messages else {}

        if last.get("role") == "tool":
            self.reply_text("Done. The tool finished.", stream)
            return

        m = re.search(r"\[pause (\d+(?:\.\d+)?)\]", user_text)
        if m:
            time.sleep(float(m.group(1)))

        m = re.search(r"\[retry (\d+)\]", user_text)
        if m:
            key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
            with _lock:
                n = _retry_counts.get(key, 0)
                if n < int(m.group(1)):
                    _retry_counts[key] = n + 1
                    self.send_json(
                        429,
                        {"error": {"message": "rate limited (fake)", "type": "rate_limit_error"}},
                        {"retry-after": "1"},
                    )
                    return

        if "[fail]" in user_text:
            self.send_json(400, {"error": {"message": "bad request (fake fatal)", "type": "err"}})
            return

        tool_names = {((t.get("function") or {}).get("name")) for t in tools}
        for kw, name in (("[task]", "task"), ("[bash]", "bash"), ("[question]", "question")):
            if kw in user_text and name in tool_names:
                self.reply_tool_call(name, tool_call_args(name, tools, user_text), stream)
                return

        m = re.search(r"\[slow (\d+(?:\.\d+)?)\]", user_text)
        seconds = float(m.group(1)) if m else 0.0
        self.reply_text("Hello from the fake model. All done.", stream, seconds)

    def reply_text(self, text, stream, seconds=0.0):
        if not stream:
            self.send_json(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": USAGE,
                },
            )
            return
        self.start_stream()
        self.emit(chunk({"role": "assistant", "content": ""}))
        if seconds > 0:
            n = max(1, int(round(seconds / 0.5)))
            for i in range(n):
                time.sleep(0.5)
                self.emit(chunk({"content": "tick %d. " % (i + 1)}))
            self.emit(chunk({"content": text}))
        else:
            words = text.split(" ")
            for i, w in enumerate(words):
                self.emit(chunk({"content": w + (" " if i + 1 < len(words) else "")}))
        self.emit(chunk({}, finish="stop", usage=USAGE))
        self.emit("[DONE]")

    def reply_tool_call(self, name, args, stream):
        call_id = "call_%s_%d" % (name, int(time.time() * 1000) % 1000000)
        if not stream:
            self.send_json(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": None,
                                "tool_calls": [
                                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                                ],
                            },
                            "finish_reason": "tool_calls",
                        }
                    ],
                    "usage": USAGE,
                },
            )
            return
        self.start_stream()
        self.emit(chunk({"role": "assistant", "content": ""}))
        self.emit(
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                    ]
                }
            )
        )
        self.emit(chunk({}, finish="tool_calls", usage=USAGE))
        self.emit("[DONE]")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("FAKE_LLM_PORT=%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
