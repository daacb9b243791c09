"""Client-side rate limiting and throttle backoff shared by the cloud connectors.

Provider read quotas are per account/identity and region, not per connection, so every
connection that shares a quota takes its tokens from one bucket, found by a key such as
``aws:<account-or-access-key-id>:<region>``. Buckets live in this process only: with several
worker processes each has its own, so divide the rate between them.

``BackoffPolicy`` retries a call that raised ``ThrottledError`` with full-jitter exponential
backoff (``rand(0, 1) * min(cap, base * 2**attempt)``), never sooner than the provider's
retry-after hint, and gives up (re-raising) after a bounded number of retries or when the hint
is longer than the caller is willing to block.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import ThrottledError

T = TypeVar("T")

DEFAULT_RATE = 5.0  # requests/s; AWS FilterLogEvents allows 5 TPS per account and region


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, bursts up to ``capacity``.

    ``acquire`` reserves its tokens under the lock and sleeps outside it, so waiters are served
    roughly in arrival order and the lock is never held while sleeping.
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._rate = float(rate)
        self._capacity = float(capacity) if capacity is not None else max(1.0, self._rate)
        self._tokens = self._capacity
        self._updated = clock()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._refill()
            self._rate = float(rate)
            self._capacity = max(1.0, self._rate)
            self._tokens = min(self._tokens, self._capacity)

    def acquire(self, tokens: float = 1.0, timeout: float | None = None) -> bool:
        """Take ``tokens``, sleeping until they are available; False (nothing taken) if that exceeds ``timeout``."""
        with self._lock:
            self._refill()
            wait = max(0.0, (tokens - self._tokens) / self._rate)
            if timeout is not None and wait > timeout:
                return False
            self._tokens -= tokens  # may go negative: a reservation that later callers wait behind
        if wait > 0:
            self._sleep(wait)
        return True

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket(key: str, rate: float = DEFAULT_RATE) -> TokenBucket:
    """The process-wide bucket for a quota ``key``, created on first use.

    Connections sharing a key may ask for different rates; the quota is shared, so the lowest
    requested rate wins (it is never raised again until the process restarts).
    """
    with _buckets_lock:
        found = _buckets.get(key)
        if found is None:
            found = _buckets[key] = TokenBucket(rate)
        elif rate < found.rate:
            found.set_rate(rate)
        return found


def clear_buckets() -> None:
    """Forget every bucket (tests)."""
    with _buckets_lock:
        _buckets.clear()


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Full-jitter backoff for calls that raise ``ThrottledError``.

    ``retries`` is how many times a throttled call is repeated after the first try; ``max_wait_s``
    is the longest single sleep we accept (a longer retry-after hint is re-raised at once so the
    worker thread is not parked and the scheduler can show the connection as throttled).
    """

    retries: int = 3
    base_s: float = 1.0
    cap_s: float = 20.0
    max_wait_s: float = 60.0

    def delay(
        self, attempt: int, retry_after_s: float | None = None, rand: Callable[[], float] = random.random
    ) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        jitter = rand() * min(self.cap_s, self.base_s * (2**attempt))
        if retry_after_s is not None and retry_after_s > jitter:
            return retry_after_s
        return jitter

    def call(
        self,
        fn: Callable[[], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> T:
        """Run ``fn``; on ``ThrottledError`` sleep and retry, then re-raise with the attempt count."""
        attempt = 0
        while True:
            try:
                return fn()
            except ThrottledError as err:
                wait = self.delay(attempt, err.retry_after_s, rand)
                if attempt >= self.retries or wait > self.max_wait_s:
                    raise ThrottledError(f"{err} (gave up after {attempt + 1} attempt(s))", err.retry_after_s) from err
            sleep(wait)
            attempt += 1
