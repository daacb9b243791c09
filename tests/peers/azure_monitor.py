"""A fake Azure Monitor Log Analytics query API and Entra ID token endpoint, over HTTPS (test-peers.md section 2).

It speaks the wire protocol the real SDKs use (``azure-monitor-query`` and ``azure-identity``/MSAL):

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client credentials with a secret or a certificate assertion): tokens for registered principals,
  ``401 invalid_client`` otherwise.
- ``POST /v1/workspaces/{id}/query``: bearer tokens checked (401), workspace access (403), unknown
  workspace (404); the ``timespan`` filters TimeGenerated; the KQL is parsed for just the shape the
  connector emits (``T | where ...``, ``| where ingestion_time() > datetime(..) and ...``,
  ``| extend _it = tostring(ingestion_time()), _ItemId = column_ifexists("_ItemId", "")``, ``| take N``),
  anything else is a 400. Row and byte limits give a 200 with a ``PartialError`` and truncated rows,
  as the service does; ``throttle()`` answers 429 with ``Retry-After``; ``partial()`` injects engine errors;
  ``canned`` bodies (recorded payloads) are served instead of evaluating the query.

Times are 100 ns ticks inside, printed with 7 fraction digits, as Kusto does.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import secrets
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from core.connectors.ratelimit import clear_buckets

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
CLIENT_SECRET = "fake-client-secret-for-tests"  # noqa: S105
WORKSPACE = "5d1a8f3c-2b7e-4c1d-9a0f-6e3b2c1d0a9f"
TICK = 10_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_COLUMNS = {
    "AppTraces": "TimeGenerated:datetime Message:string SeverityLevel:int OperationId:string AppRoleName:string "
    "AppRoleInstance:string Properties:dynamic",
    "ContainerLogV2": "TimeGenerated:datetime Computer:string ContainerName:string PodName:string PodNamespace:string "
    "LogMessage:dynamic LogSource:string LogLevel:string",
    "Syslog": "TimeGenerated:datetime Computer:string Facility:string SeverityLevel:string SyslogMessage:string "
    "ProcessName:string ProcessID:int",
    "Heartbeat_CL": "TimeGenerated:datetime Computer:string Status_s:string Latency_d:real",
}
SCHEMAS: dict[str, list[tuple[str, str]]] = {
    table: [(c.split(":")[0], c.split(":")[1]) for c in spec.split()] for table, spec in _COLUMNS.items()
}


# ---- time ----------------------------------------------------------------------------------------


def ticks(moment: dt.datetime | int) -> int:
    if isinstance(moment, int):
        return moment
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICK + delta.microseconds * 10


def kusto_time(t: int) -> str:
    seconds, fraction = divmod(t, TICK)
    return (EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:07d}Z"


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z?$")


def parse_time(text: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"bad datetime {text!r}")
    whole = dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return ticks(whole) + int((match.group(2) or "").ljust(7, "0")[:7])


# ---- TLS and JWTs ----------------------------------------------------------------------------------


def make_certificate(common_name: str, hosts: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """``(certificate PEM, private key PEM)``, self-signed, with the hosts as subject alternative names."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(token: str, public_key: Any) -> dict[str, Any] | None:
    """The claims of an RS256 JWT signed by ``public_key``, else None."""
    try:
        head, body, sig = token.split(".")
        public_key.verify(_b64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return json.loads(_b64(body))
    except Exception:  # noqa: BLE001 - any malformed or forged assertion is simply refused
        return None


# ---- state ---------------------------------------------------------------------------------------


@dataclass
class Principal:
    secret: str | None = None
    certificate: Any = None  # public key of the certificate credential


@dataclass
class AzureFake:
    """The service's state and fault switches; tests seed and inspect it directly."""

    base_url: str = ""
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)
    access: dict[str, set[str]] = field(default_factory=dict)  # workspace -> client ids with read access
    tokens: dict[str, str] = field(default_factory=dict)  # bearer token -> client id
    queries: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    row_limit: int = 500_000
    byte_limit: int = 100 * 1024 * 1024
    throttled: int = 0
    retry_after: str = "1"
    partials: int = 0
    canned: list[dict[str, Any]] = field(default_factory=list)  # bodies served instead of evaluating (recordings)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.records = {name: [] for name in SCHEMAS}
            self.principals = {CLIENT_ID: Principal(secret=CLIENT_SECRET)}
            self.access = {WORKSPACE: {CLIENT_ID}}
            self.tokens.clear()
            self.queries.clear()
            self.token_requests = 0
            self.row_limit, self.byte_limit = 500_000, 100 * 1024 * 1024
            self.throttled, self.retry_after, self.partials = 0, "1", 0
            self.canned.clear()

    def add(
        self, table: str, rows: list[dict[str, Any]], ingested: dt.datetime | int, *, item_ids: bool = True
    ) -> None:
        """Ingest rows at ``ingested`` (datetime or ticks); a row's own ``_ItemId`` wins, else a fresh GUID."""
        with self.lock:
            for row in rows:
                record = dict(row)
                record["_ingest"] = ticks(ingested)
                if item_ids:
                    record.setdefault("_ItemId", str(uuid.uuid4()))
                self.records.setdefault(table, []).append(record)

    def throttle(self, times: int, retry_after: str = "1") -> None:
        with self.lock:
            self.throttled, self.retry_after = times, retry_after

    def partial(self, times: int) -> None:
        with self.lock:
            self.partials = times

    def add_principal(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        certificate_pem: bytes | None = None,
        workspaces: tuple[str, ...] = (WORKSPACE,),
    ) -> None:
        cert = x509.load_pem_x509_certificate(certificate_pem).public_key() if certificate_pem else None
        with self.lock:
            self.principals[client_id] = Principal(secret=secret, certificate=cert)
            for ws in workspaces:
                self.access.setdefault(ws, set()).add(client_id)

    # ---- token endpoint --------------------------------------------------------------------------

    def openid(self, tenant: str) -> tuple[int, dict[str, Any]]:
        base = f"{self.base_url}/{tenant}"
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
        }

    def token(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_requests += 1
            if tenant != TENANT:
                return 400, {
                    "error": "invalid_request",
                    "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                }
            principal = self.principals.get(form.get("client_id", ""))
            assertion = form.get("client_assertion")
            if principal is None:
                ok = False
            elif assertion is not None:
                claims = verify_jwt(assertion, principal.certificate) if principal.certificate else None
                ok = bool(claims) and claims.get("sub") == form.get("client_id")
            else:
                ok = principal.secret is not None and form.get("client_secret") == principal.secret
            if not ok or form.get("grant_type") != "client_credentials":
                return 401, {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                    "being sent in the request is the client secret value.",
                }
            token = "eyFake." + secrets.token_urlsafe(24)
            self.tokens[token] = form["client_id"]
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    # ---- query API --------------------------------------------------------------------------------

    def query(
        self, workspace: str, auth: str | None, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            client = self.tokens.get((auth or "").removeprefix("Bearer "))
            if client is None:
                return (
                    401,
                    _error("InvalidTokenError", "The provided authentication is not valid for this resource"),
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            if workspace not in self.access:
                return 404, _error("WorkspaceNotFoundError", f"Workspace {workspace} not found"), {}
            if client not in self.access[workspace]:
                return (
                    403,
                    _error(
                        "InsufficientAccessError",
                        "The provided credentials have insufficient access to perform the requested operation",
                    ),
                    {},
                )
            self.queries.append(body)
            if self.throttled > 0:
                self.throttled -= 1
                return 429, _error("ThrottledError", "Too many requests"), {"Retry-After": self.retry_after}
            if self.canned:
                return 200, self.canned.pop(0), {}
            try:
                columns, rows = self._evaluate(body.get("query") or "", body.get("timespan"))
            except ValueError as exc:
                return (
                    400,
                    _error(
                        "BadArgumentError",
                        "The request had some invalid properties",
                        {"code": "SyntaxError", "message": str(exc)},
                    ),
                    {},
                )
            result: dict[str, Any] = {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}
            if self.partials > 0:
                self.partials -= 1
                result["error"] = _partial("Query execution was partially cancelled: a shard failed (E_RUNAWAY_QUERY)")
            elif len(rows) > self.row_limit:
                result["tables"][0]["rows"] = rows[: self.row_limit]
                result["error"] = _partial(
                    f"Query result set has exceeded the internal record count limit "
                    f"{self.row_limit} records (E_QUERY_RESULT_SET_TOO_LARGE)"
                )
            elif len(json.dumps(rows)) > self.byte_limit:
                kept, size = [], 0
                for row in rows:
                    size += len(json.dumps(row))
                    if size > self.byte_limit:
                        break
                    kept.append(row)
                result["tables"][0]["rows"] = kept
                result["error"] = _partial(
                    f"Query result set has exceeded the internal data size limit "
                    f"{self.byte_limit} bytes (E_QUERY_RESULT_SET_TOO_LARGE)"
                )
            return 200, result, {}

    def _evaluate(self, query: str, timespan: str | None) -> tuple[list[dict[str, str]], list[list[Any]]]:
        stages = [s.strip() for s in _split(query, "|")]
        table = stages[0]
        if table not in SCHEMAS:
            raise ValueError(f"'{table}' operator: Failed to resolve table or column expression named '{table}'")
        schema = [*SCHEMAS[table], ("Type", "string")]
        records = [dict(r, Type=table) for r in self.records.get(table, [])]
        if timespan:
            start, end = _timespan(timespan)
            records = [r for r in records if start <= ticks(r["TimeGenerated"]) < end]
        for stage in stages[1:]:
            op, _, rest = stage.partition(" ")
            if op == "where":
                conditions = [_condition(c, schema) for c in _split(rest, " and ")]
                records = [r for r in records if all(c(r) for c in conditions)]
            elif op == "extend":
                for assignment in _split(rest, ","):
                    name, _, expr = (p.strip() for p in assignment.partition("="))
                    records = [dict(r, **{name: _extend_value(expr, r)}) for r in records]
                    schema = [c for c in schema if c[0] != name] + [(name, "string")]
            elif op in ("take", "limit") and rest.strip().isdigit():
                records = records[: int(rest)]
            else:
                raise ValueError(f"unsupported query stage {stage!r}")
        columns = [{"name": n, "type": t} for n, t in schema]
        return columns, [[_wire(r.get(n), t) for n, t in schema] for r in records]


def _error(code: str, message: str, inner: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = inner
    return {"error": error}


def _partial(reason: str) -> dict[str, Any]:
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [
            {
                "code": "EngineError",
                "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196797", "message": reason, "severity": 2, "severityName": "Error"},
            }
        ],
    }


def _split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside quotes and parentheses."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return [p for p in (p.strip() for p in parts) if p]


def _timespan(text: str) -> tuple[int, int]:
    start, _, end = text.partition("/")
    begin = parse_time(start)
    if end.startswith("PT") and end.endswith("S"):
        return begin, begin + round(float(end[2:-1]) * TICK)
    return begin, parse_time(end)


_COMPARE = re.compile(r"^(ingestion_time\(\)|[A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<)\s*(.+)$")
_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _condition(text: str, schema: list[tuple[str, str]]) -> Any:
    match = _COMPARE.match(text.strip())
    if not match:
        raise ValueError(f"unsupported condition {text!r}")
    lhs, op, rhs = match.groups()
    rhs = rhs.strip()
    if rhs.startswith("datetime(") and rhs.endswith(")"):
        value: Any = parse_time(rhs[9:-1])
    elif rhs[:1] in "\"'" and rhs[-1:] == rhs[:1]:
        value = rhs[1:-1]
    else:
        value = float(rhs)
    types = dict(schema)
    if lhs != "ingestion_time()" and lhs not in types:
        raise ValueError(f"Failed to resolve scalar expression named '{lhs}'")

    def check(record: dict[str, Any]) -> bool:
        left = record["_ingest"] if lhs == "ingestion_time()" else record.get(lhs)
        if left is None:
            return False
        if types.get(lhs) == "datetime":
            left = ticks(left)
        try:
            return _OPS[op](left, value)
        except TypeError:
            return False

    return check


def _extend_value(expr: str, record: dict[str, Any]) -> Any:
    if expr == "tostring(ingestion_time())":
        return kusto_time(record["_ingest"])
    match = re.fullmatch(r'column_ifexists\("(\w+)",\s*""\)', expr)
    if match:
        return record.get(match.group(1), "")
    raise ValueError(f"unsupported extend expression {expr!r}")


def _wire(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return kusto_time(ticks(value)) if isinstance(value, dt.datetime | int) else value
    if kind == "dynamic" and not isinstance(value, str):
        return json.dumps(value)  # the service sends dynamic values as JSON text
    return value


# ---- HTTP ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: AzureFake

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        parts = urlparse(self.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            self._send(*self.fake.openid(parts[0]))
        else:
            self._send(404, _error("PathNotFoundError", f"The requested path does not exist: {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path.strip("/").split("/")
        body = self._body()
        if len(path) == 4 and path[1:] == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self._send(*self.fake.token(path[0], form))
        elif len(path) == 4 and path[0] == "v1" and path[1] == "workspaces" and path[3] == "query":
            self._send(*self.fake.query(path[2], self.headers.get("Authorization"), json.loads(body or b"{}")))
        else:
            self._send(404, _error("PathNotFoundError", f"The requested path does not exist: {self.path}"))


@dataclass
class AzureServer:
    url: str
    ca_file: str
    fake: AzureFake
    server: ThreadingHTTPServer


def start_server(directory: Path) -> AzureServer:
    cert_pem, key_pem = make_certificate("localhost", ("localhost", "127.0.0.1"))
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    fake = AzureFake()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    fake.reset()
    threading.Thread(target=server.serve_forever, name="azure-fake", daemon=True).start()
    return AzureServer(fake.base_url, str(directory / "cert.pem"), fake, server)


@pytest.fixture(scope="session")
def azure_peer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureServer]:
    server = start_server(tmp_path_factory.mktemp("azure-peer"))
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def azure_peer(azure_peer_server: AzureServer) -> AzureServer:
    """The HTTPS fake with fresh state (one principal with access to WORKSPACE), and fresh rate-limit buckets."""
    azure_peer_server.fake.reset()
    clear_buckets()
    return azure_peer_server


def azure_options(server: AzureServer, **extra: Any) -> dict[str, Any]:
    """Connection options pointing at the fake (no settle: the fake makes records visible at once)."""
    return {
        "workspace_id": WORKSPACE,
        "query": "AppTraces",
        "endpoint": server.url,
        "authority_host": server.url,
        "ca_bundle": server.ca_file,
        "overlap_s": 300,
        "settle_s": 0,
        "poll_interval_s": 1,
        "requests_per_s": 500,
        **extra,
    }


def azure_secret(**extra: Any) -> dict[str, Any]:
    return {"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **extra}
