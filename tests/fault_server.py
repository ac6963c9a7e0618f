"""A scriptable, fault-injecting OpenAI-compatible server for tests.

Serves ``POST /v1/chat/completions``, ``POST /v1/embeddings`` and
``GET /v1/models`` on 127.0.0.1 (a free port) from a thread. Each request takes the next scripted behaviour:
first from the queue of the rule whose text occurs in the request's last user
message (:meth:`FaultServer.on`), then from the global queue
(:meth:`FaultServer.push`), else the default (``ok`` with ``default_answer``).

Behaviours (tuples):
  ``("ok", text)``                  200 with that answer (plus logprobs if asked
                                    and ``logprobs=True`` on the server)
  ``("status", code, headers, body)`` that HTTP status
  ``("rate_limit", retry_after)``     429 with a Retry-After header (seconds)
  ``("hang", seconds)``             answer nothing for that long, then ok
  ``("slow", seconds, text)``        wait that long, then answer ``text``
  ``("after", seconds, behaviour)``  wait that long, then behave so
  ``("trickle", interval, text)``    a 200 with ``text``, its body sent one
                                    byte every ``interval`` seconds
  ``("length", text)``              200 with ``text`` and finish_reason "length"
                                    (the answer hit max_tokens)
  ``("truncated",)``                a 200 whose JSON body stops half-way
  ``("garbage",)``                  a 200 whose body is not JSON
  ``("html",)``                     a 200 web page (text/html), as a server's
                                    UI answers when the base URL lacks /v1
  ``("echo_key", text)``            200 whose answer is ``text`` followed by
                                    the key the request carried
  ``("drop",)``                     close the connection without answering

Embeddings: ``("ok", ...)`` answers :meth:`FaultServer.vector_for` each
input (deterministic, not unit length, ``embed_dim`` wide) after
``embed_delay`` seconds; rules match any input text; ``("wrong_count",)``
answers one vector too few. Every other behaviour works as for chat.

``reject_json_mode`` / ``reject_logprobs`` make the server answer 400 to any
request asking for that feature, as some servers do. ``models`` is what
``GET /v1/models`` lists (None: answer 404, as servers without the list do).
``in_flight``/``max_in_flight`` count requests being answered right now (and
the most at once), so concurrency is measured at the server. Every request is kept in
``requests`` (path, headers with lower-case names, JSON body). Traffic stays on the loopback.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion_body(text: str, *, model: str, logprobs: list[float] | None = None, finish_reason: str = "stop") -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
    if logprobs is not None:
        choice["logprobs"] = {
            "content": [{"token": f"t{i}", "logprob": lp, "bytes": None, "top_logprobs": []} for i, lp in enumerate(logprobs)]
        }
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text) // 4), "total_tokens": 10 + len(text) // 4},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(
        self, code: int, body: bytes, headers: dict | None = None, *, length: int | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        fs = self.server.owner
        fs._record(self.path, dict(self.headers), None)
        if self.path.rstrip("/").endswith("/models") and fs.models is not None:
            data = [{"id": name, "object": "model"} for name in fs.models]
            self._send(200, json.dumps({"object": "list", "data": data}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self):
        fs = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        fs._record(self.path, dict(self.headers), body)
        embeddings = self.path.rstrip("/").endswith("/embeddings")
        if not embeddings and not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        if fs.reject_json_mode and "response_format" in body:
            self._send(400, b'{"error": {"message": "response_format is not supported"}}')
            return
        if fs.reject_logprobs and body.get("logprobs"):
            self._send(400, b'{"error": {"message": "logprobs is not supported"}}')
            return
        behaviour = fs._next(body)
        kind = behaviour[0]
        started = fs._enter()
        try:
            while kind == "after":
                fs._stop.wait(behaviour[1])
                behaviour = behaviour[2]
                kind = behaviour[0]
            if kind == "slow":
                fs._stop.wait(behaviour[1])
                behaviour, kind = ("ok", behaviour[2]), "ok"
            if kind == "hang":
                fs._stop.wait(behaviour[1])
                behaviour = ("ok", fs.default_answer(body))
                kind = "ok"
            if embeddings and kind in ("ok", "wrong_count"):
                if fs.embed_delay:
                    fs._stop.wait(fs.embed_delay)
                texts = body.get("input")
                texts = [texts] if isinstance(texts, str) else list(texts or [])
                if kind == "wrong_count":
                    texts = texts[:-1]
                data = [{"object": "embedding", "index": i, "embedding": fs.vector_for(t).tolist()} for i, t in enumerate(texts)]
                out = {"object": "list", "data": data, "model": fs.embed_model or body.get("model", fs.model),
                       "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}}
                self._send(200, json.dumps(out).encode())
            elif kind == "ok":
                lp = fs.logprobs_for(behaviour[1]) if (fs.logprobs and body.get("logprobs")) else None
                out = completion_body(behaviour[1], model=body.get("model", fs.model), logprobs=lp)
                self._send(200, json.dumps(out).encode())
            elif kind == "status":
                _, code, headers, payload = behaviour
                self._send(code, json.dumps(payload).encode(), headers)
            elif kind == "rate_limit":
                msg = {"error": {"message": "rate limited", "type": "rate_limit"}}
                self._send(429, json.dumps(msg).encode(), {"Retry-After": behaviour[1]})
            elif kind == "truncated":
                full = json.dumps(completion_body('[{"text": "x", "label": "MAT"}]', model=fs.model)).encode()
                self._send(200, full[: len(full) // 2], length=len(full))
                self.close_connection = True
            elif kind == "length":
                out = completion_body(behaviour[1], model=body.get("model", fs.model), finish_reason="length")
                self._send(200, json.dumps(out).encode())
            elif kind == "trickle":
                full = json.dumps(completion_body(behaviour[2], model=fs.model)).encode()
                self._send(200, b"", length=len(full))
                for i in range(len(full)):
                    if fs._stop.wait(behaviour[1]):
                        break
                    self.wfile.write(full[i : i + 1])
                    self.wfile.flush()
                self.close_connection = True
            elif kind == "echo_key":
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                out = completion_body(behaviour[1] + " " + key, model=body.get("model", fs.model))
                self._send(200, json.dumps(out).encode())
            elif kind == "garbage":
                self._send(200, b"<html>this is not the API you are looking for</html>")
            elif kind == "html":
                page = b"<!DOCTYPE html><html><head><title>Chat UI</title></head><body>Welcome</body></html>"
                self._send(200, page, content_type="text/html; charset=utf-8")
            elif kind == "drop":
                self.close_connection = True
            elif kind == "echo_auth":
                # A server that quotes the key back (real ones do: "Incorrect API key provided: sk-...").
                auth = self.headers.get("Authorization", "")
                msg = {"error": {"message": f"Incorrect API key provided: {auth.removeprefix('Bearer ')}"}}
                self._send(behaviour[1], json.dumps(msg).encode())
            else:
                raise ValueError(f"unknown behaviour {behaviour!r}")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            fs._leave(started)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FaultServer


class FaultServer:
    """Start with ``FaultServer()`` (or as a context manager); ``url`` is the
    base URL (``http://127.0.0.1:PORT/v1``); :meth:`close` stops it."""

    def __init__(self, *, model: str = "fault-model", default_answer=None, logprobs: bool = False, port: int = 0):
        self.model = model
        self.default_answer = default_answer or (lambda body: "[]")
        self.logprobs = logprobs
        self.models: list[str] | None = [model]
        self.reject_json_mode = False
        self.reject_logprobs = False
        self.embed_dim = 16
        self.embed_delay = 0.0
        self.embed_model: str | None = None  # the model name embeddings answers report (default: the one asked)
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.served: list[tuple[float, float]] = []  # (start, end) monotonic times of each answered request
        self._queue: deque = deque()
        self._rules: list[tuple[str, deque]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @staticmethod
    def logprobs_for(text: str) -> list[float]:
        """Made-up, deterministic log-probabilities: longer answers less sure."""
        n = max(1, len(text) // 4)
        return [-0.05 * (1 + (i % 3)) for i in range(n)]

    def vector_for(self, text: str):
        """The made-up embedding of ``text``: seeded by its bytes, length 3."""
        import hashlib

        import numpy as np

        seed = int.from_bytes(hashlib.sha256(f"{self.embed_dim}|{text}".encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.embed_dim)
        return 3.0 * v / np.linalg.norm(v)

    def embedding_requests(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].endswith("/embeddings")]

    def push(self, *behaviours) -> FaultServer:
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def on(self, text: str, *behaviours) -> FaultServer:
        """Behaviours for requests whose last user message contains ``text``."""
        with self._lock:
            self._rules.append((text, deque(behaviours)))
        return self

    def _next(self, body: dict):
        query = ""
        if "input" in body:
            query = "\x00".join([body["input"]] if isinstance(body["input"], str) else map(str, body["input"]))
        for m in reversed(body.get("messages") or []):
            if m.get("role") == "user":
                query = str(m.get("content", ""))
                break
        with self._lock:
            for text, queue in self._rules:
                if text in query and queue:
                    return queue.popleft()
            if self._queue:
                return self._queue.popleft()
        return ("ok", self.default_answer(body))

    def _enter(self) -> float:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return time.monotonic()

    def _leave(self, started: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.served.append((started, time.monotonic()))

    def mean_in_flight(self) -> float:
        """Requests being answered at once, on average, from the first
        request's arrival to the last one's answer."""
        with self._lock:
            if not self.served:
                return 0.0
            span = max(e for _, e in self.served) - min(s for s, _ in self.served)
            busy = sum(e - s for s, e in self.served)
        return busy / span if span > 0 else float(len(self.served))

    def _record(self, path: str, headers: dict, body) -> None:
        with self._lock:
            headers = {k.lower(): v for k, v in headers.items()}
            self.requests.append({"path": path, "headers": headers, "body": body, "time": time.monotonic()})

    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
