"""A local HTTP server standing in for Slack (webhook and Web API) and Jira (REST v2).

It records every request exactly as received, answers like the real service by default, and
can be scripted per path prefix (``peer.script("/hooks", Reply(429, {"Retry-After": "1"}),
Reply(500), Reply())``: replies are used in order, then the default behaviour returns).
``Reply(delay_s=...)`` answers normally but only after a delay (a worker can be killed meanwhile).

Slack messages are deduplicated on the ``Idempotency-Key`` header, as an idempotent receiver
would (real Slack does not): ``peer.slack_messages`` holds what a channel would show, while
``peer.requests`` holds every attempt on the wire. Jira state (issues with labels, comments) is
kept like Jira keeps it, with no header deduplication: the notifier's own checks must avoid doubles.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

SLACK_TOKEN = "xoxb-1234-5678-fakebottoken"
JIRA_USER, JIRA_TOKEN = "bot@example.com", "jira-api-t0ken-secret"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Reply:
    status: int | None = None  # None: the service's normal answer
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""
    delay_s: float = 0.0


@dataclass
class WebhookPeer:
    url: str
    requests: list[Request] = field(default_factory=list)
    slack_messages: list[Request] = field(default_factory=list)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    _scripts: dict[str, list[Reply]] = field(default_factory=dict)
    _seen_keys: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def script(self, prefix: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts.setdefault(prefix, []).extend(replies)

    def wait_for_requests(self, n: int, timeout: float = 10) -> list[Request]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")
            return list(self.requests)

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # --- used by the handler ---
    def _next_reply(self, path: str) -> Reply | None:
        with self._lock:
            for prefix, queue in self._scripts.items():
                if path.startswith(prefix) and queue:
                    return queue.pop(0)
        return None

    def _record(self, request: Request) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def _slack_deliver(self, request: Request) -> None:
        key = request.header("Idempotency-Key")
        with self._lock:
            if key and key in self._seen_keys:
                return
            if key:
                self._seen_keys.add(key)
            self.slack_messages.append(request)


def _basic_ok(header: str | None) -> bool:
    if header == f"Bearer {JIRA_TOKEN}":
        return True
    if not header or not header.startswith("Basic "):
        return False
    return base64.b64decode(header[6:]).decode() == f"{JIRA_USER}:{JIRA_TOKEN}"


def default_reply(peer: WebhookPeer, request: Request) -> tuple[int, dict[str, str], Any]:
    path = request.path
    if path.startswith("/hooks/"):
        peer._slack_deliver(request)
        return 200, {"Content-Type": "text/html"}, b"ok"
    if path == "/api/chat.postMessage":
        if request.header("Authorization") != f"Bearer {SLACK_TOKEN}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        peer._slack_deliver(request)
        body = request.json
        return 200, {}, {"ok": True, "channel": "C123", "ts": f"1700000000.{len(peer.slack_messages):06d}",
                         "message": {"text": body.get("text")}}
    if path.startswith("/rest/api/2/"):
        if not _basic_ok(request.header("Authorization")):
            return 401, {}, {"errorMessages": ["You are not authenticated."]}
        return _jira(peer, request)
    return 404, {}, b"no such endpoint"


def _jira(peer: WebhookPeer, request: Request) -> tuple[int, dict[str, str], Any]:
    path, method = request.path, request.method
    if path == "/rest/api/2/issue" and method == "POST":
        with peer._lock:
            key = f"OPS-{len(peer.issues) + 1}"
            peer.issues[key] = {"fields": request.json["fields"], "comments": []}
        return 201, {}, {"id": str(10000 + len(peer.issues)), "key": key, "self": f"{peer.url}/rest/api/2/issue/{key}"}
    match = re.fullmatch(r"/rest/api/2/issue/([A-Z]+-\d+)/comment", path)
    if match:
        issue = peer.issues.get(match.group(1))
        if issue is None:
            return 404, {}, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        if method == "POST":
            with peer._lock:
                issue["comments"].append({"id": str(len(issue["comments"]) + 1), "body": request.json["body"]})
            return 201, {}, issue["comments"][-1]
        start = int(request.query.get("startAt", ["0"])[0])
        size = int(request.query.get("maxResults", ["50"])[0])
        comments = issue["comments"][start:start + size]
        return 200, {}, {"startAt": start, "maxResults": size, "total": len(issue["comments"]), "comments": comments}
    if path == "/rest/api/2/search":
        label = re.fullmatch(r'labels = "([^"]+)"', request.query.get("jql", [""])[0])
        found = [{"key": k} for k, v in peer.issues.items()
                 if label and label.group(1) in v["fields"].get("labels", [])]
        return 200, {}, {"startAt": 0, "total": len(found), "issues": found[:1]}
    return 404, {}, {"errorMessages": ["no such endpoint"]}


def _make_handler(peer: WebhookPeer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            peer._record(request)
            reply = peer._next_reply(parts.path)
            if reply is not None and reply.status is not None:
                status, headers, payload = reply.status, reply.headers, reply.body
            else:
                status, headers, payload = default_reply(peer, request)
            if reply is not None and reply.delay_s:
                time.sleep(reply.delay_s)
            data = payload if isinstance(payload, bytes) else (
                payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
            try:
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client died waiting (the kill test)
                pass

        do_GET = do_POST = do_PUT = _handle  # noqa: N815

    return Handler


@pytest.fixture
def webhook_server() -> Iterator[WebhookPeer]:
    """A fresh fake Slack + Jira on a free loopback port."""
    peer = WebhookPeer(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(peer))
    server.daemon_threads = True
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
