"""Message catalog of the demo connector: what each fake service's log lines look like.

Everything costly (JSON escaping, choosing formats, building paths) happens once when a
``ServiceModel`` is built; emitting a line is a few table lookups and one ``str.format``. Pools
come from a fixed ``random.Random``, so the catalog, and therefore the stream, is deterministic.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from datetime import datetime

_POOL = random.Random(20261127)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

IPS = [f"{_POOL.choice((10, 172, 192))}.{_POOL.randint(0, 255)}.{_POOL.randint(0, 255)}.{_POOL.randint(1, 254)}"
       for _ in range(256)]
USERS = [f"u_{_POOL.randint(10_000, 999_999)}" for _ in range(2048)]
SKUS = [f"SKU-{_POOL.randint(10_000, 99_999)}" for _ in range(512)]
AMOUNTS = [f"{_POOL.lognormvariate(3.5, 0.9):.2f}" for _ in range(64)]
LATENCY_MS = sorted(max(1, int(_POOL.lognormvariate(3.3, 0.8))) for _ in range(1024))
SLOW_MS = [_POOL.choice((5000, 5001, 5003, 10_000, 30_000, 30_001)) for _ in range(64)]
BYTES = [_POOL.randint(180, 24_000) for _ in range(256)]
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2")
THREADS = [f"pool-{p}-thread-{n}" for p in (1, 2, 3) for n in range(1, 10)] + [
    "main", "scheduling-1", "kafka-consumer-0", "kafka-consumer-1", "http-nio-8080-exec-4"]
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
    "curl/8.5.0",
)
REFERERS = ("-", "-", "-", "https://shop.example.com/", "https://shop.example.com/cart", "https://www.google.com/")

# (method, path pattern, domain of the upstream service or "" when nginx serves it, weight)
ROUTES = (
    ("GET", "/api/v1/products/{sku}", "inventory", 14),
    ("GET", "/api/v1/products?category={cat}&page={n}", "inventory", 6),
    ("GET", "/api/v1/cart/{id}", "checkout", 10),
    ("POST", "/api/v1/cart/{id}/items", "checkout", 5),
    ("POST", "/api/v1/checkout", "checkout", 3),
    ("GET", "/api/v1/orders/ord_{id}", "checkout", 3),
    ("POST", "/api/v1/payments/intent", "payments", 2),
    ("POST", "/api/v1/payments/webhook", "payments", 1),
    ("POST", "/auth/token", "auth", 4),
    ("POST", "/auth/refresh", "auth", 4),
    ("GET", "/auth/.well-known/jwks.json", "auth", 1),
    ("GET", "/static/js/app.3f9c2e1.js", "", 4),
    ("GET", "/static/css/main.8a1b77d.css", "", 2),
    ("GET", "/healthz", "", 3),
)
_CATEGORIES = ("shoes", "outdoor", "kitchen", "books", "toys")


def _table(items) -> list:
    """Weighted items -> a flat list to index with ``int(random() * len)``."""
    return [item for item, weight in items for _ in range(weight)]


STATUS_OK = _table(((200, 850), (201, 25), (204, 20), (301, 10), (304, 30), (400, 20), (401, 15), (403, 5),
                    (404, 18), (409, 3), (429, 2), (500, 1), (503, 1)))
STATUS_DEGRADED = _table(((200, 40), (500, 15), (502, 20), (503, 10), (504, 15)))


@dataclass(frozen=True, slots=True)
class Tpl:
    """A message: level word, text, ``key=value`` extras, and an optional multi-line ``tail`` (a trace).

    Text may use {user} {sku} {n} {oid} {amt} {ms} {ip} {region}; they are filled per event.
    """

    level: str
    msg: str
    extras: tuple[tuple[str, str], ...] = ()
    weight: int = 1
    logger: str = ""
    tail: str = ""


_DB_DOWN = "connection refused to db-primary:5432"
DOMAINS: dict[str, list[Tpl]] = {
    "checkout": [
        Tpl("info", "cart updated", (("cart_items", "{n}"), ("sku", "{sku}")), 12, "shop.cart"),
        Tpl("info", "order placed", (("order_id", "ord_{oid}"), ("amount", "{amt}")), 4, "shop.orders"),
        Tpl("info", "price quote computed", (("sku", "{sku}"), ("region", "{region}")), 6, "shop.pricing"),
        Tpl("debug", "cache hit", (("key", "cart:{oid}"),), 5, "shop.cache"),
        Tpl("warn", "slow query on orders table took {ms}ms", (), 1, "shop.db"),
        Tpl("warn", "retrying payments call (attempt 2/3)", (("order_id", "ord_{oid}"),), 1, "shop.payments"),
        Tpl("error", "payment authorization failed: card_declined", (("order_id", "ord_{oid}"),), 1, "shop.payments"),
    ],
    "payments": [
        Tpl("info", "charge succeeded", (("charge_id", "ch_{oid}"), ("amount", "{amt}"), ("currency", "EUR")), 10,
            "payments.charge"),
        Tpl("info", "refund issued", (("refund_id", "re_{oid}"), ("amount", "{amt}")), 2, "payments.refund"),
        Tpl("info", "webhook delivered", (("event", "payment_intent.succeeded"), ("attempt", "1")), 5,
            "payments.webhooks"),
        Tpl("debug", "fraud score computed", (("score", "0.0{n}"),), 4, "payments.risk"),
        Tpl("warn", "3DS challenge required", (("charge_id", "ch_{oid}"),), 2, "payments.charge"),
        Tpl("warn", "idempotency key reused", (("key", "idem_{oid}"),), 1, "payments.api"),
        Tpl("error", "charge failed: processor returned 402 insufficient_funds", (("charge_id", "ch_{oid}"),), 1,
            "payments.charge"),
    ],
    "auth": [
        Tpl("info", "token issued", (("client_id", "web"), ("scope", "openid profile")), 12, "auth.token"),
        Tpl("info", "login succeeded", (("ip", "{ip}"), ("mfa", "true")), 5, "auth.login"),
        Tpl("info", "session refreshed", (("ttl_s", "3600"),), 8, "auth.session"),
        Tpl("debug", "jwks cache refreshed", (("keys", "3"),), 1, "auth.jwks"),
        Tpl("warn", "login failed: bad password", (("ip", "{ip}"), ("attempts", "{n}")), 2, "auth.login"),
        Tpl("warn", "rate limit approaching for client mobile-app", (("remaining", "{n}"),), 1, "auth.ratelimit"),
        Tpl("error", "jwks refresh failed: context deadline exceeded", (), 1, "auth.jwks"),
    ],
    "inventory": [
        Tpl("info", "synced {n} items from warehouse in {ms} ms", (("warehouse", "{region}"),), 8,
            "c.e.inventory.StockSync"),
        Tpl("info", "reservation created", (("sku", "{sku}"), ("qty", "{n}")), 8, "c.e.inventory.Reservations"),
        Tpl("debug", "fetched batch of {n} records from topic stock-events", (), 5, "c.e.inventory.Consumer"),
        Tpl("warn", "stock low", (("sku", "{sku}"), ("remaining", "{n}")), 2, "c.e.inventory.StockService"),
        Tpl("warn", "consumer lag high", (("partition", "3"), ("lag", "{oid}")), 1, "c.e.inventory.Consumer"),
        Tpl("error", "reservation expired before confirmation", (("sku", "{sku}"),), 1, "c.e.inventory.Reservations"),
    ],
    "generic": [
        Tpl("info", "job finished in {ms} ms", (("job", "sync-{n}"),), 8, "app.jobs"),
        Tpl("info", "config reloaded", (("version", "v{n}"),), 1, "app.config"),
        Tpl("debug", "heartbeat", (), 4, "app.health"),
        Tpl("warn", "queue depth high", (("depth", "{oid}"),), 1, "app.queue"),
        Tpl("error", "upstream returned 500", (("upstream", "{ip}"),), 1, "app.client"),
    ],
}
# What a degraded service says during an error burst.
BURST = [
    Tpl("error", _DB_DOWN, (("pool", "primary"),), 6, "db.pool"),
    Tpl("error", "timeout after 5000ms calling downstream", (("attempt", "3"),), 4, "http.client"),
    Tpl("error", "database pool exhausted (size=20, waiting={n})", (), 3, "db.pool"),
    Tpl("warn", "retrying after error: " + _DB_DOWN, (("attempt", "{n}"),), 4, "db.pool"),
    Tpl("warn", "circuit breaker open for db-primary", (("failures", "{n}"),), 2, "resilience"),
]

_PY_FRAMES = (
    "Traceback (most recent call last):\n"
    '  File "/app/.venv/lib/python3.11/site-packages/starlette/middleware/errors.py", line 164, in __call__\n'
    "    await self.app(scope, receive, _send)\n"
    '  File "/app/service/handlers.py", line 88, in handle\n'
    "    row = await repo.fetch_one(request_id)\n"
    '  File "/app/service/repo.py", line 41, in fetch_one\n'
    "    async with self.pool.connection() as conn:\n"
    '  File "/app/.venv/lib/python3.11/site-packages/psycopg_pool/pool_async.py", line 212, in connection\n'
    "    conn = await self.getconn(timeout=timeout)\n"
)
PY_TRACES = (
    _PY_FRAMES + "psycopg_pool.PoolTimeout: couldn't get a connection after 30.00 sec",
    _PY_FRAMES + "psycopg.OperationalError: " + _DB_DOWN + " (Connection refused)",
    "Traceback (most recent call last):\n"
    '  File "/app/service/handlers.py", line 131, in apply_discount\n'
    "    pct = rules[code]['percent']\n"
    "KeyError: 'BLACKFRIDAY'",
)
_JAVA_FRAMES = (
    "\tat com.example.inventory.repo.StockRepository.reserve(StockRepository.java:87)\n"
    "\tat com.example.inventory.StockService.reserve(StockService.java:142)\n"
    "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:1583)\n"
)
JAVA_TRACES = (
    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out"
    " after 30000ms.\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)\n" + _JAVA_FRAMES
    + "Caused by: org.postgresql.util.PSQLException: " + _DB_DOWN + " (Connection refused)\n"
    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)\n"
    "\t... 14 common frames omitted",
    'java.lang.NullPointerException: Cannot invoke "com.example.inventory.Sku.code()" because "sku" is null\n'
    "\tat com.example.inventory.StockService.lowStockCheck(StockService.java:211)\n" + _JAVA_FRAMES.rstrip("\n"),
)
GO_TRACES = (
    "goroutine 4127 [running]:\n"
    "runtime/debug.Stack()\n\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e\n"
    "github.com/example/auth/internal/session.(*Store).Refresh(0x0, {0xa3c1e0, 0xc000412000})\n"
    "\t/src/internal/session/store.go:118 +0x4a\n"
    "github.com/example/auth/internal/api.(*Server).refresh(0xc0001b2000, {0xa3b8f8, 0xc0004e21c0}, 0xc000512300)\n"
    "\t/src/internal/api/refresh.go:57 +0x1d3\n"
    "net/http.HandlerFunc.ServeHTTP(...)\n\t/usr/local/go/src/net/http/server.go:2220",
)
_TRACE_MSG = {"java": "unhandled exception in worker", "logfmt": "panic recovered: runtime error: invalid memory "
              "address or nil pointer dereference", "json": "unhandled exception"}


def profile_for(name: str) -> str:
    """Log format of a service, guessed from its name: nginx, java (logback), logfmt (Go) or json (Python)."""
    n = name.lower()
    for profile, keys in (("nginx", ("nginx", "edge", "proxy", "gateway", "ingress", "envoy", "haproxy")),
                          ("java", ("worker", "java", "jvm", "consumer", "batch", "kafka")),
                          ("logfmt", ("auth", "identity", "login", "sso", "iam")),
                          ("json", ("checkout", "payment", "billing", "cart", "order", "api", "web"))):
        if any(k in n for k in keys):
            return profile
    return ("json", "logfmt", "java")[zlib.crc32(name.encode()) % 3]


def domain_for(name: str) -> str:
    """Which message catalog a service uses, guessed from its name."""
    n = name.lower()
    for domain, keys in (("checkout", ("checkout", "cart", "order", "shop")), ("payments", ("payment", "billing")),
                         ("auth", ("auth", "identity", "login", "sso", "iam")),
                         ("inventory", ("inventory", "stock", "warehouse", "catalog"))):
        if any(k in n for k in keys):
            return domain
    return "generic"


def _literal(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _json_value(v: str) -> str:
    bare = v in ("{n}", "{ms}", "{oid}", "{amt}", "{status}", "true") or v.isdigit()
    return v if bare else json.dumps(v)


def _compile(profile: str, service: str, tpl: Tpl) -> str:
    """One ``str.format`` pattern for a whole line; {ts} is the timestamp text of the profile."""
    level, tail = tpl.level, ("\n" + _literal(tpl.tail) if tpl.tail else "")
    if profile == "json" and not tpl.tail:
        extras = "".join(f',"{k}":{_json_value(v)}' for k, v in tpl.extras)
        return ('{{"ts":"{ts}","level":"' + level + '","msg":' + json.dumps(tpl.msg) + ',"service":"' + service
                + '","trace_id":"{trace}","user_id":"{user}","duration_ms":{ms}' + extras + "}}")
    if profile == "json":  # a Python traceback reaches the log as plain text from the logging module
        return f"{{ts}} ERROR [{tpl.logger}] {tpl.msg} trace_id={{trace}}" + tail
    if profile == "logfmt":
        extras = "".join(f' {k}="{v}"' if " " in v else f" {k}={v}" for k, v in tpl.extras)
        return f'time={{ts}} level={level} msg="{tpl.msg}" service={service}{extras} trace_id={{trace}}' + tail
    # java/logback; a {level} placeholder becomes {LEVEL}, filled with the padded upper-case word
    word = "{LEVEL}" if level == "{level}" else f"{level.upper():<5}"
    extras = "".join(f" {k}={v}" for k, v in tpl.extras)
    return f"{{ts}} {word} [{{thread}}] {tpl.logger} - {tpl.msg}{extras}" + tail


def _route_paths(rng: random.Random, pattern: str) -> list[str]:
    return [pattern.format(sku=rng.choice(SKUS), id=rng.randint(100_000, 999_999), cat=rng.choice(_CATEGORIES),
                           n=rng.randint(1, 9)) for _ in range(32)]


def _level_of(status: int) -> str:
    return "error" if status >= 500 else "warn" if status in (401, 403, 429) else "info"


_GET_ONLY = (301, 304)  # redirects and "not modified" answer GETs, not POSTs
# Per-event timestamp tails: "<second text>" + ISO_MS[ms] or + PLAIN_MS[ms].
ISO_MS = [f".{ms:03d}Z" for ms in range(1000)]
PLAIN_MS = [f",{ms:03d}" for ms in range(1000)]
# The tail of an access line after the status, by status: size, referer, user agent, request time.
_TAILS = {
    status: [f"{0 if status in (204, 304) else _POOL.choice(BYTES) if status < 300 else _POOL.randint(150, 700)} "
             f'"{_POOL.choice(REFERERS)}" "{_POOL.choice(AGENTS)}" '
             f"{(_POOL.choice(SLOW_MS) if status >= 502 else _POOL.choice(LATENCY_MS)) / 1000:.3f}"
             for _ in range(256)]
    for status in sorted(set(STATUS_OK) | set(STATUS_DEGRADED))
}

# A variant is one pre-rendered message with holes for the timestamp and the trace id:
# (head, mid, tail, plain_ts, traced) -> head + ts + mid [+ trace + tail].
Variant = tuple[str, str, str, bool, bool]


class ServiceModel:
    """One fake service, pre-rendered into variants so that ``emit`` only picks and concatenates."""

    VARIANTS = 64  # per message template: enough variety for a demo, small enough for 50 services

    def __init__(self, name: str, upstreams: dict[str, str]):
        self.name = name
        self.source = f"demo/{name}"
        self.profile = profile_for(name)
        self.domain = domain_for(name)
        rng = random.Random(zlib.crc32(name.encode()))
        self._rng = rng
        self.emit = self._nginx if self.profile == "nginx" else self._app
        if self.profile == "nginx":
            self.routes = _table(((_route_paths(rng, f"{m} {p} HTTP/1.1"), upstreams.get(d, "")), w)
                                 for m, p, d, w in ROUTES)
            return
        own = [r for r in ROUTES if r[2] == self.domain] or [r for r in ROUTES if r[2]]
        routes = [(m, path) for m, p, _d, w in own for path in _route_paths(rng, p)[:w * 2]]
        gets = [r for r in routes if r[0] == "GET"] or [("GET", "/healthz")]
        request = _compile(self.profile, name, Tpl("{level}", "request completed", (
            ("method", "{method}"), ("path", "{path}"), ("status", "{status}")), logger=self._logger("RequestLog")))
        self.requests: dict[int, list[Variant]] = {}
        for status in sorted(set(STATUS_OK) | set(STATUS_DEGRADED)):
            level = _level_of(status)
            self.requests[status] = [
                self._variant(request, method=m, path=p, status=status, level=level, LEVEL=f"{level.upper():<5}",
                              **({"ms": rng.choice(SLOW_MS)} if status >= 502 else {}))
                for m, p in (rng.choice(gets if status in _GET_ONLY else routes) for _ in range(16))]
        self.normal = _table((self._variants(_compile(self.profile, name, t)), t.weight) for t in DOMAINS[self.domain])
        self.burst = _table((self._variants(_compile(self.profile, name, t)), t.weight) for t in BURST)
        tails = {"java": JAVA_TRACES, "logfmt": GO_TRACES}.get(self.profile, PY_TRACES)
        trace_tpls = [Tpl("error", _TRACE_MSG[self.profile], (), 1, self._logger("ErrorHandler"), t) for t in tails]
        self.traces = [self._variants(_compile(self.profile, name, t), 8) for t in trace_tpls]

    def _logger(self, cls: str) -> str:
        return f"c.e.{self.domain}.{cls}" if self.profile == "java" else f"{self.domain}.{cls.lower()}"

    def _variants(self, fmt: str, k: int = VARIANTS) -> list[Variant]:
        return [self._variant(fmt) for _ in range(k)]

    def _variant(self, fmt: str, **fixed: object) -> Variant:
        """Render ``fmt`` with random field values, leaving holes (NUL, SOH) for the timestamp and trace id."""
        rng = self._rng
        values = {"ts": "\x00", "trace": "\x01", "user": rng.choice(USERS), "sku": rng.choice(SKUS),
                  "n": min(rng.randint(1, 40), rng.randint(1, 40)), "oid": rng.randint(100_000, 1_999_999),
                  "amt": rng.choice(AMOUNTS), "ms": rng.choice(LATENCY_MS), "ip": rng.choice(IPS),
                  "region": rng.choice(REGIONS), "thread": rng.choice(THREADS), **fixed}
        head, _, rest = fmt.format_map(values).partition("\x00")
        mid, traced, tail = rest.partition("\x01")
        plain = not fmt.startswith("time=") and not fmt.startswith("{{")  # logback and Python logging timestamps
        return head, mid, tail, plain, bool(traced)

    def _app(self, rng: random.Random, clocks: tuple[str, str, str, str], ms: int, burst: str | None) -> str:
        """``emit`` of an application: one line (or multi-line trace) at millisecond ``ms`` of the slot."""
        rnd = rng.random
        r = rnd()
        if burst == self.name:  # degraded: errors, retries, traces, and 5xx on the requests that remain
            if r < 0.45:
                variants = self.burst[int(rnd() * len(self.burst))]
            elif r < 0.51:
                variants = self.traces[int(rnd() * len(self.traces))]
            else:
                variants = self.requests[STATUS_DEGRADED[int(rnd() * len(STATUS_DEGRADED))]]
        elif r < 0.003:
            variants = self.traces[int(rnd() * len(self.traces))]
        elif r < 0.45:
            variants = self.requests[STATUS_OK[int(rnd() * len(STATUS_OK))]]
        else:
            variants = self.normal[int(rnd() * len(self.normal))]
        head, mid, tail, plain, traced = variants[int(rnd() * len(variants))]
        ts = clocks[1] + PLAIN_MS[ms] if plain else clocks[0] + ISO_MS[ms]
        if traced:
            return f"{head}{ts}{mid}{rng.randbytes(16).hex()}{tail}"
        return f"{head}{ts}{mid}"

    def _nginx(self, rng: random.Random, clocks: tuple[str, str, str, str], ms: int, burst: str | None) -> str:
        """``emit`` of the edge: combined-log access lines, and error-log lines when an upstream fails."""
        rnd = rng.random
        requests, upstream = self.routes[int(rnd() * len(self.routes))]
        x = rng.getrandbits(32)
        request, ip = requests[x & 31], IPS[(x >> 5) & 255]
        if upstream and upstream == burst:
            status = STATUS_DEGRADED[int(rnd() * len(STATUS_DEGRADED))]
            if status >= 502 and rnd() < 0.35:
                why = ("upstream timed out (110: Connection timed out) while reading response header from upstream"
                       if status == 504 else "connect() failed (111: Connection refused) while connecting to upstream")
                path = request.split(" ")[1]
                return (f'{clocks[3]} [error] 31#31: *{x >> 13} {why}, client: {ip}, server: shop.example.com, '
                        f'request: "{request}", upstream: "http://{upstream}:8080{path}", host: "shop.example.com"')
        else:
            status = STATUS_OK[int(rnd() * len(STATUS_OK))]
            if status == 200 and rnd() < 0.002:
                return (f"{clocks[3]} [warn] 30#30: *{x >> 13} an upstream response is buffered to a temporary file "
                        f"/var/cache/nginx/proxy_temp/{x & 7}/{(x >> 3) & 63:02d}/00000{x & 0xFFFF:05d} while "
                        f'reading upstream, client: {ip}, server: shop.example.com, request: "{request}"')
        if status in _GET_ONLY and request[0] == "P":
            status = 200
        tails = _TAILS[status]
        return f'{ip} - - [{clocks[2]}] "{request}" {status} {tails[(x >> 13) & 255]}'


def clock_strings(dt: datetime) -> tuple[str, str, str, str]:
    """Second-resolution texts of ``dt`` (UTC): ISO, logging/logback, combined log, nginx error log."""
    day, hms = f"{dt:%Y-%m-%d}", f"{dt:%H:%M:%S}"
    return (f"{day}T{hms}", f"{day} {hms}", f"{dt:%d}/{_MONTHS[dt.month - 1]}/{dt:%Y}:{hms} +0000",
            f"{dt:%Y/%m/%d} {hms}")
