"""Demo connector: synthetic but realistic logs from several fake services, no cloud account needed.

The stream is a pure function of the options and time. Time is cut into one-second slots; slot
``t`` is generated from ``random.Random((seed << 40) | t)``, and its ``i``-th event has the dedupe
key ``f"{seed}:{t}:{i}"``. Re-reading a window (overlap, crash, restart) therefore yields the same
events with the same keys, and the loader's unique key absorbs them. Bursts and quiet periods
are scheduled from the seed too. Give each connection its own seed, or two demo connections
produce identical logs.

Cursor: partition ``"demo"``, value ``{"hw_s": t}`` where ``t`` is the first slot not yet read.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from core.connectors.base import Batch, ConnectorOptions, ConnectorSecret, CursorValue, TestResult
from core.connectors.demo_catalog import ServiceModel, clock_strings, domain_for, profile_for
from core.errors import BadConfigError
from core.events import RawEvent

PARTITION = "demo"
BATCH_MAX = 5000
DEFAULT_SERVICES = ("checkout-api", "payments", "auth", "inventory-worker", "edge-nginx")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_MS = [timedelta(milliseconds=i) for i in range(1300)]  # event offsets, plus a receive delay of 5-260 ms
_WAVE_PERIOD_S = 900  # traffic swells and ebbs by 15 % over 15 minutes, so charts are not flat
_M64 = (1 << 64) - 1


class DemoOptions(ConnectorOptions):
    """Options of the demo stream. Every field is part of the stream's identity: change one and the
    events of a window change, so keep them fixed for a connection."""

    poll_interval_s: float = Field(2.0, ge=1.0, description="Seconds between polls.")
    overlap_s: float = Field(0.0, ge=0.0, description="Re-read this far behind the high-water mark (not needed).")
    settle_s: float = Field(0.0, ge=0.0, description="Leave the newest seconds for the next poll (no delay here).")
    rate_per_s: float = Field(5.0, gt=0, le=50_000, description="Average events per second over all services.")
    seed: int = Field(42, ge=0, le=2**63 - 1, description="Stream identity; give each connection its own.")
    services: list[str] = Field(default_factory=lambda: list(DEFAULT_SERVICES), min_length=1, max_length=50,
                                description="Fake services; the format follows the name (nginx, worker, auth, api).")
    error_burst_every_s: int = Field(120, ge=0, description="One service degrades this often; 0 disables bursts.")
    error_burst_len_s: int = Field(20, ge=1, description="How long a burst lasts.")
    quiet_every_s: int = Field(0, ge=0, description="One service goes silent this often (absence alerts); 0 = never.")
    quiet_len_s: int = Field(60, ge=1, description="How long a quiet period lasts.")
    max_backfill_s: int = Field(600, ge=1, le=7 * 86_400,
                                description="Generate at most this far back on the first poll or after a long stop.")

    @field_validator("services")
    @classmethod
    def _check_services(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _SERVICE_NAME.match(name):
                raise ValueError(f"service name {name!r} must be 1-63 letters, digits, '.', '_' or '-'")
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        return names

    @model_validator(mode="after")
    def _check_periods(self) -> DemoOptions:
        if self.error_burst_every_s and self.error_burst_len_s >= self.error_burst_every_s:
            raise ValueError("error_burst_len_s must be shorter than error_burst_every_s (or set that to 0)")
        if self.quiet_every_s and self.quiet_len_s >= self.quiet_every_s:
            raise ValueError("quiet_len_s must be shorter than quiet_every_s (or set that to 0)")
        return self


class DemoSecret(ConnectorSecret):
    """The demo needs no credentials."""


class DemoConnector:
    """Generates the demo stream; see the module docstring for determinism and the cursor."""

    provider: ClassVar[str] = "demo"
    Options: ClassVar[type[DemoOptions]] = DemoOptions
    Secret: ClassVar[type[DemoSecret]] = DemoSecret

    def __init__(self, options: ConnectorOptions, secret: ConnectorSecret | None = None) -> None:
        opts = options if isinstance(options, DemoOptions) else DemoOptions.model_validate(options.model_dump())
        self.options = opts
        self._seed = opts.seed
        upstreams = _upstreams(opts.services)
        self._models = [ServiceModel(name, upstreams) for name in opts.services]
        backends = [m for m in self._models if m.profile != "nginx"]
        self._burst_candidates = backends or self._models  # the edge shows its upstream's failures instead
        self._tables: dict[tuple[str | None, str | None], list[ServiceModel]] = {}

    def test(self) -> TestResult:
        o = self.options
        return TestResult(True, f"Demo generator ready: {len(o.services)} services, about {o.rate_per_s:g} "
                                f"events/s (seed {o.seed}).", {"services": list(o.services), "seed": o.seed})

    def fetch(self, cursors: Mapping[str, CursorValue], now: datetime) -> Iterator[Batch]:
        hw = _read_cursor(cursors.get(PARTITION))
        now_s = (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
        end = math.floor(now_s - self.options.settle_s)
        start = end - self.options.max_backfill_s  # a restart after hours does not flood the pipeline
        if hw is not None:
            if end <= hw:
                return
            start = max(start, hw - math.ceil(self.options.overlap_s))
        buffer: list[RawEvent] = []
        for t in range(start, end):
            buffer.extend(self.slot_events(t))
            while len(buffer) > BATCH_MAX:  # strictly more: the last batch is never empty and carries the cursor
                yield Batch(buffer[:BATCH_MAX])
                del buffer[:BATCH_MAX]
        yield Batch(buffer, {PARTITION: {"hw_s": end}})

    def close(self) -> None:
        pass

    def slot_events(self, t: int) -> list[RawEvent]:
        """All events of the second starting at epoch ``t``; the same list whenever it is asked for."""
        rng = random.Random((self._seed << 40) | t)
        burst, quiet = self.burst_at(t), self.quiet_at(t)
        wave = 1.0 + 0.15 * math.sin(2 * math.pi * (t % _WAVE_PERIOD_S) / _WAVE_PERIOD_S)
        count = _poisson(rng, self.options.rate_per_s * wave)
        table = self._service_table(burst, quiet)
        if not count or not table:
            return []
        rnd, bits, n_table = rng.random, rng.getrandbits, len(table)
        base = datetime.fromtimestamp(t, UTC)
        clocks = clock_strings(base)
        prefix = f"{self._seed}:{t}:"
        stamps = _Stamps(base)
        events = []
        for i, ms in enumerate(sorted([int(rnd() * 1000) for _ in range(count)])):
            model = table[int(rnd() * n_table)]
            message = model.emit(rng, clocks, ms, burst)
            events.append(RawEvent(prefix + str(i), stamps[ms], message, model.source, stamps[ms + 5 + bits(8)]))
        return events

    def burst_at(self, t: int) -> str | None:
        """Name of the service degraded during slot ``t``, if any."""
        every = self.options.error_burst_every_s
        if not every:
            return None
        k, pos = divmod(t - _mix(self._seed * 2) % every, every)
        if pos >= self.options.error_burst_len_s:
            return None
        return self._burst_candidates[_mix((self._seed << 32) ^ k) % len(self._burst_candidates)].name

    def quiet_at(self, t: int) -> str | None:
        """Name of the service silent during slot ``t``, if any."""
        every = self.options.quiet_every_s
        if not every:
            return None
        k, pos = divmod(t - _mix(self._seed * 2 + 1) % every, every)
        if pos >= self.options.quiet_len_s:
            return None
        return self._models[_mix((self._seed << 32) ^ k ^ 0x5EED) % len(self._models)].name

    def _service_table(self, burst: str | None, quiet: str | None) -> list[ServiceModel]:
        """Weighted pick list: the edge sees most traffic; a degraded service retries, so it logs more."""
        key = (burst, quiet)
        if key not in self._tables:
            self._tables[key] = [m for m in self._models if m.name != quiet
                                 for _ in range((3 if m.profile == "nginx" else 2) * (2 if m.name == burst else 1))]
        return self._tables[key]


class _Stamps(dict):
    """Millisecond offset -> datetime within one slot, computed once per offset (busy slots reuse them)."""

    def __init__(self, base: datetime):
        super().__init__()
        self.base = base

    def __missing__(self, ms: int) -> datetime:
        stamp = self[ms] = self.base + _MS[ms]
        return stamp


def _upstreams(names: list[str]) -> dict[str, str]:
    """Which configured service the edge routes each API domain to (the first of that domain, else any)."""
    backends = [n for n in names if profile_for(n) != "nginx"]
    upstreams: dict[str, str] = {}
    for name in backends:
        upstreams.setdefault(domain_for(name), name)
    for i, domain in enumerate(d for d in ("checkout", "payments", "auth", "inventory") if d not in upstreams):
        if backends:
            upstreams[domain] = backends[i % len(backends)]
    return upstreams


def _read_cursor(value: CursorValue | None) -> int | None:
    if value is None:
        return None
    hw = value.get("hw_s") if isinstance(value, Mapping) else None
    if isinstance(hw, bool) or not isinstance(hw, int | float) or not math.isfinite(hw):
        raise BadConfigError(f"demo cursor {value!r} is malformed: expected {{'hw_s': <epoch seconds>}}; "
                             "reset the connection's cursor to restart from now")
    return int(hw)


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: Knuth's method for small means, the normal approximation above 30."""
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def _mix(x: int) -> int:
    """splitmix64 finalizer: a stable integer hash (Python's hash() is salted per process)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)
