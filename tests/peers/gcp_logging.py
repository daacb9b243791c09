"""A fake Google Cloud Logging REST API and OAuth token endpoint, over plain HTTP (test-peers.md section 3).

It speaks what the real SDKs send (``google-cloud-logging`` with ``_use_grpc=False``, ``google-auth``):

- ``POST /token``: the service-account JWT-bearer grant. The assertion's RS256 signature is checked
  against the registered key of its ``iss``; ``400 invalid_grant`` otherwise.
- ``POST /v2/entries:list``: bearer tokens checked (401 UNAUTHENTICATED), ``roles/logging.viewer`` on
  every project of ``resourceNames`` (403 PERMISSION_DENIED); ``pageSize`` 1..1000; ``orderBy``
  ``timestamp asc|desc`` with ``insertId`` breaking ties; ``nextPageToken`` bound to the request's
  other parameters. The filter is evaluated for the shape the connector emits: ``AND``-ed
  comparisons (``receiveTimestamp``, ``timestamp``, ``severity``, ``logName``, ``resource.type``,
  ``insertId``), optionally one parenthesized group. Times compare at nanosecond precision.
- Faults: ``throttle(n)`` answers 429 RESOURCE_EXHAUSTED, ``empty_pages(n)`` serves empty pages that
  still carry a token, ``fail_call(k, status)`` breaks the k-th list call from now (a chain cut halfway),
  ``reject_tokens`` makes every token fail with 401, ``canned`` pages (recorded payloads) are served as they are.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.connectors.ratelimit import clear_buckets

PROJECT = "shop-prod"
EMAIL = f"log-reader@{PROJECT}.iam.gserviceaccount.com"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEVERITIES = ["DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"]
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$")
_TERM = re.compile(r"^(receiveTimestamp|timestamp|severity|logName|resource\.type|insertId)\s*(>=|<=|!=|=|>|<)\s*(.+)$")


def nanos(moment: dt.datetime | int) -> int:
    if isinstance(moment, int):
        return moment
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    return (EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def parse_rfc3339(text: str) -> int:
    match = _TIME.match(text)
    if not match:
        raise ValueError(f'Invalid timestamp "{text}"')
    whole = dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return nanos(whole) + int((match.group(2) or "").ljust(9, "0"))


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class GcpFake:
    """The service's state and fault switches; tests seed and inspect it directly."""

    base_url: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, Any] = field(default_factory=dict)  # service-account email -> public key
    viewers: dict[str, set[str]] = field(default_factory=dict)  # project -> emails with roles/logging.viewer
    tokens: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0
    empty: int = 0
    failures: dict[int, int] = field(default_factory=dict)  # list call number -> HTTP status
    canned: list[dict[str, Any]] = field(default_factory=list)  # pages served instead of evaluating (recordings)
    reject_tokens: bool = False  # the token endpoint issues tokens the API then refuses (401 every time)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()
            self.keys.clear()
            self.viewers = {PROJECT: {EMAIL}}
            self.tokens.clear()
            self.requests.clear()
            self.throttled = self.empty = 0
            self.failures.clear()
            self.canned.clear()
            self.reject_tokens = False

    def service_account(self, email: str = EMAIL, *, registered: bool = True) -> dict[str, Any]:
        """A service-account key file (as a dict) whose key the token endpoint knows (unless ``registered=False``)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        if registered:
            with self.lock:
                self.keys[email] = key.public_key()
        project = email.split("@", 1)[1].split(".", 1)[0]
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(uuid.uuid4().int)[:21],
            "token_uri": f"{self.base_url}/token",
            "universe_domain": "googleapis.com",
        }

    def add(self, entries: list[dict[str, Any]], received: dt.datetime | int) -> list[dict[str, Any]]:
        """Store entries as received at ``received``; missing insertId/logName/resource get defaults."""
        stored = []
        with self.lock:
            for entry in entries:
                item = {
                    "logName": f"projects/{PROJECT}/logs/app",
                    "resource": {"type": "global", "labels": {}},
                    "insertId": uuid.uuid4().hex[:14],
                    **entry,
                }
                item.setdefault("receiveTimestamp", rfc3339(nanos(received)))
                self.entries.append(item)
                stored.append(item)
        return stored

    def throttle(self, times: int) -> None:
        with self.lock:
            self.throttled = times

    def empty_pages(self, times: int) -> None:
        with self.lock:
            self.empty = times

    def fail_call(self, nth: int, status: int = 503) -> None:
        with self.lock:
            self.failures[len(self.requests) + nth] = status

    # ---- endpoints --------------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        assertion = form.get("assertion", "")
        with self.lock:
            try:
                head, body, sig = assertion.split(".")
                claims = json.loads(_b64(body))
                key = self.keys[claims["iss"]]
                key.verify(_b64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
            except Exception:  # noqa: BLE001 - unknown account, forged or malformed assertion
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            token = "ya29.fake-" + secrets.token_urlsafe(24)
            self.tokens[token] = claims["iss"]
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def list_entries(self, auth: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            who = self.tokens.get((auth or "").removeprefix("Bearer "))
            if who is None or self.reject_tokens:
                return _error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth "
                    "2 access token, login cookie or other valid authentication "
                    "credential.",
                )
            self.requests.append(body)
            failure = self.failures.pop(len(self.requests), None)
            if failure:
                return _error(
                    failure,
                    "UNAVAILABLE" if failure >= 500 else "INVALID_ARGUMENT",
                    "The service is currently unavailable.",
                )
            names = body.get("resourceNames") or []
            for name in names:
                project = name.split("/")[1] if name.startswith("projects/") else None
                if who not in self.viewers.get(project or "", set()):
                    return _error(
                        403,
                        "PERMISSION_DENIED",
                        f"Permission 'logging.logEntries.list' denied on resource (or it may not exist). [{name}]",
                    )
            if self.throttled > 0:
                self.throttled -= 1
                return _error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Read requests' and limit "
                    "'Read requests per minute' of service "
                    "'logging.googleapis.com'.",
                )
            if self.canned:
                return 200, self.canned.pop(0)
            try:
                return 200, self._page(body, names)
            except ValueError as exc:
                return _error(400, "INVALID_ARGUMENT", str(exc))

    def _page(self, body: dict[str, Any], names: list[str]) -> dict[str, Any]:
        size = int(body.get("pageSize") or 50)
        if not 1 <= size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        order = body.get("orderBy") or "timestamp asc"
        if order not in ("timestamp asc", "timestamp desc"):
            raise ValueError(f"Invalid order_by: {order}")
        if not names:
            raise ValueError("resource_names must contain at least one resource")
        match = _conjunction(body.get("filter") or "")
        rows = [e for e in self.entries if any(e["logName"].startswith(n + "/") for n in names) and match(e)]
        rows.sort(
            key=lambda e: (parse_rfc3339(e["timestamp"]) if "timestamp" in e else 0, e.get("insertId", "")),
            reverse=order.endswith("desc"),
        )
        bound = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "pageToken"}, sort_keys=True).encode())
        offset = 0
        if body.get("pageToken"):
            token = json.loads(_b64(body["pageToken"]))
            if token["h"] != bound.hexdigest()[:16]:
                raise ValueError("The page token does not match the request (its other parameters must not change)")
            offset = token["o"]
        if self.empty > 0:  # "not finished yet": nothing now, come back with this token
            self.empty -= 1
            return {"nextPageToken": _token(offset, bound)}
        page = rows[offset : offset + size]
        result: dict[str, Any] = {"entries": page} if page else {}
        if offset + size < len(rows):
            result["nextPageToken"] = _token(offset + size, bound)
        return result


def _token(offset: int, bound: Any) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps({"o": offset, "h": bound.hexdigest()[:16]}).encode()).decode().rstrip("=")
    )


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def _conjunction(text: str) -> Any:
    text = text.strip()
    if not text:
        return lambda entry: True
    terms = [_term(t) for t in _split_and(text)]
    return lambda entry: all(t(entry) for t in terms)


def _split_and(text: str) -> list[str]:
    parts, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif not quote and ch in "()":
            depth += 1 if ch == "(" else -1
        elif not quote and depth == 0 and text.startswith(" AND ", i):
            parts.append(text[start:i])
            start = i + 5
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _term(text: str) -> Any:
    if text.startswith("(") and text.endswith(")"):
        return _conjunction(text[1:-1])
    match = _TERM.match(text)
    if not match:
        raise ValueError(f"Unparseable filter: unsupported term {text!r}")
    name, op, raw = match.groups()
    raw = raw.strip()
    value = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
    if name in ("timestamp", "receiveTimestamp"):
        wanted: Any = parse_rfc3339(value)
    elif name == "severity":
        wanted = SEVERITIES.index(value.upper())
    else:
        wanted = value

    def check(entry: dict[str, Any]) -> bool:
        if name in ("timestamp", "receiveTimestamp"):
            have: Any = parse_rfc3339(entry[name]) if name in entry else None
        elif name == "severity":
            have = SEVERITIES.index(entry.get("severity", "DEFAULT"))
        elif name == "resource.type":
            have = entry.get("resource", {}).get("type")
        else:
            have = entry.get(name)
        if have is None:
            return False
        return {
            "=": have == wanted,
            "!=": have != wanted,
            ">": have > wanted,
            ">=": have >= wanted,
            "<": have < wanted,
            "<=": have <= wanted,
        }[op]

    return check


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: GcpFake

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlparse(self.path).path
        if path == "/token":
            self._send(*self.fake.token({k: v[0] for k, v in parse_qs(body.decode()).items()}))
        elif path == "/v2/entries:list":
            self._send(*self.fake.list_entries(self.headers.get("Authorization"), json.loads(body or b"{}")))
        else:
            self._send(*_error(404, "NOT_FOUND", f"{path} not found"))


@dataclass
class GcpServer:
    url: str
    fake: GcpFake
    server: ThreadingHTTPServer


@pytest.fixture(scope="session")
def gcp_peer_server() -> Iterator[GcpServer]:
    fake = GcpFake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"fake": fake}))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="gcp-fake", daemon=True).start()
    yield GcpServer(fake.base_url, fake, server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def gcp_peer(gcp_peer_server: GcpServer) -> GcpServer:
    """The REST fake with fresh state (EMAIL may read PROJECT), and fresh rate-limit buckets."""
    gcp_peer_server.fake.reset()
    clear_buckets()
    return gcp_peer_server


def gcp_options(server: GcpServer, **extra: Any) -> dict[str, Any]:
    return {
        "project_id": PROJECT,
        "api_endpoint": server.url,
        "overlap_s": 120,
        "settle_s": 0,
        "poll_interval_s": 1,
        "requests_per_s": 500,
        **extra,
    }


def gcp_secret(server: GcpServer, **kw: Any) -> dict[str, Any]:
    return {"service_account_json": json.dumps(server.fake.service_account(**kw))}
