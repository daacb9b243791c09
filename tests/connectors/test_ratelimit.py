"""Token buckets and throttle backoff (core.connectors.ratelimit), on a fake clock where timing matters."""

from __future__ import annotations

import threading
import time

import pytest

from core.connectors.ratelimit import BackoffPolicy, TokenBucket, bucket, clear_buckets
from core.errors import ThrottledError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    clock = FakeClock()
    tb = TokenBucket(5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert tb.acquire()
    assert clock.sleeps == []
    tb.acquire()
    tb.acquire()
    assert clock.sleeps == pytest.approx([0.2, 0.2])


def test_simultaneous_waiters_queue_behind_each_others_reservations() -> None:
    clock = FakeClock()
    waits: list[float] = []
    tb = TokenBucket(5, clock=clock, sleep=waits.append)  # sleeping does not advance time: all arrive at once
    for _ in range(5):
        tb.acquire()
    for _ in range(3):
        tb.acquire()
    assert waits == pytest.approx([0.2, 0.4, 0.6])


def test_bucket_refills_over_time_up_to_capacity() -> None:
    clock = FakeClock()
    tb = TokenBucket(2, clock=clock, sleep=clock.sleep)
    tb.acquire()
    tb.acquire()
    clock.now += 60  # long idle: still only `capacity` tokens, not 120
    for _ in range(2):
        tb.acquire()
    assert clock.sleeps == []
    tb.acquire()
    assert clock.sleeps == pytest.approx([0.5])


def test_acquire_gives_up_without_taking_when_the_wait_exceeds_timeout() -> None:
    clock = FakeClock()
    tb = TokenBucket(1, clock=clock, sleep=clock.sleep)
    assert tb.acquire()
    assert tb.acquire(timeout=0.5) is False
    assert clock.sleeps == []
    assert tb.acquire(timeout=1.0)  # nothing was reserved by the refused call
    assert clock.sleeps == pytest.approx([1.0])


def test_bucket_is_thread_safe_and_paces_real_threads() -> None:
    tb = TokenBucket(50)
    taken: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            tb.acquire()
            with lock:
                taken.append(time.monotonic())

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert len(taken) == 80
    # 50 burst + 30 more at 50/s = 0.6 s at least; a lost update would let them through faster.
    assert elapsed >= 0.55


def test_registry_shares_buckets_per_key_and_keeps_the_lowest_rate() -> None:
    clear_buckets()
    a = bucket("aws:123456789012:eu-west-1")
    assert a.rate == 5.0
    assert bucket("aws:123456789012:eu-west-1", 10) is a
    assert a.rate == 5.0
    assert bucket("aws:123456789012:eu-west-1", 2) is a
    assert a.rate == 2.0
    assert bucket("aws:123456789012:us-east-1") is not a
    clear_buckets()
    assert bucket("aws:123456789012:eu-west-1") is not a


def test_invalid_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1).set_rate(-1)


def test_backoff_delay_is_full_jitter_capped_and_honours_retry_after() -> None:
    policy = BackoffPolicy(base_s=1.0, cap_s=20.0)
    assert policy.delay(0, rand=lambda: 1.0) == 1.0
    assert policy.delay(3, rand=lambda: 0.5) == 4.0
    assert policy.delay(10, rand=lambda: 1.0) == 20.0  # capped
    assert policy.delay(2, rand=lambda: 0.0) == 0.0  # full jitter reaches zero
    assert policy.delay(0, retry_after_s=7.5, rand=lambda: 0.3) == 7.5  # the hint is a floor
    assert policy.delay(5, retry_after_s=0.1, rand=lambda: 1.0) == 20.0


def test_backoff_call_retries_throttles_then_returns() -> None:
    clock = FakeClock()
    outcomes: list[Exception | str] = [ThrottledError("slow down"), ThrottledError("slow down", 2.0), "ok"]

    def fn() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    policy = BackoffPolicy(retries=3, base_s=1.0)
    assert policy.call(fn, sleep=clock.sleep, rand=lambda: 0.5) == "ok"
    assert clock.sleeps == [0.5, 2.0]


def test_backoff_call_gives_up_after_the_retries_with_the_hint() -> None:
    clock = FakeClock()
    calls = 0

    def fn() -> None:
        nonlocal calls
        calls += 1
        raise ThrottledError("AWS throttled FilterLogEvents", 1.5)

    with pytest.raises(ThrottledError, match=r"gave up after 3 attempt") as info:
        BackoffPolicy(retries=2, base_s=0.1).call(fn, sleep=clock.sleep, rand=lambda: 1.0)
    assert calls == 3
    assert info.value.retry_after_s == 1.5
    assert isinstance(info.value.__cause__, ThrottledError)


def test_backoff_call_does_not_block_on_a_long_retry_after() -> None:
    clock = FakeClock()

    def fn() -> None:
        raise ThrottledError("come back in an hour", 3600)

    with pytest.raises(ThrottledError) as info:
        BackoffPolicy(retries=5, max_wait_s=60).call(fn, sleep=clock.sleep)
    assert clock.sleeps == []
    assert info.value.retry_after_s == 3600


def test_backoff_call_lets_other_errors_through_untouched() -> None:
    def fn() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        BackoffPolicy().call(fn, sleep=lambda s: pytest.fail("must not sleep"))
