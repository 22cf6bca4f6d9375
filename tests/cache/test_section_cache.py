"""The section cache against a real redis-server: hits, keys, generations, TTL tiers, single-flight,
stale-while-refresh, degraded mode with recovery, configuration errors."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pandas as pd
import pytest
import redis

from data_access.cache import CacheNotConfigured, SectionCache, SectionRefresh, cache_report


class Counter:
    """A computation that counts how often it ran and returns its argument with that count."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.last_args: tuple | None = None
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, label: str = "x", *more) -> dict:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.last_args = (label, *more)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("the database is gone")
        return {"label": str(label), "call": call}


def fetch(cache: SectionCache, compute: Counter, *args, families=("trades",), tier="medium", force=False, name="section"):
    return cache.fetch(name, families, tier, args, lambda: compute(*args), force=force)


def test_second_read_is_served_from_redis_with_the_first_computation_time(cache):
    compute = Counter()
    first = fetch(cache, compute, "30d")
    second = fetch(cache, compute, "30d")
    assert (first.cached, second.cached) == (False, True)
    assert second.value == {"label": "30d", "call": 1} and compute.calls == 1
    assert abs((second.computed_at - first.computed_at).total_seconds()) < 0.001


def test_each_argument_value_has_its_own_key(cache):
    compute = Counter()
    fetch(cache, compute, "7d")
    assert fetch(cache, compute, "30d").value["label"] == "30d"
    assert compute.calls == 2


def test_non_primitive_arguments_are_refused_as_keys(cache):
    with pytest.raises(TypeError, match="must be primitives"):
        cache.fetch("section", ("trades",), "short", (pd.DataFrame({"a": [1]}),), lambda: 1)


def test_bumping_a_family_invalidates_its_keys_and_leaves_other_families_cached(cache):
    trades, bars = Counter(), Counter()
    fetch(cache, trades, "a", families=("trades", "accounts"), name="pnl")
    fetch(cache, bars, "a", families=("bars",), name="prices")
    cache.bump("accounts")
    assert fetch(cache, trades, "a", families=("trades", "accounts"), name="pnl").cached is False
    assert fetch(cache, bars, "a", families=("bars",), name="prices").cached is True
    assert (trades.calls, bars.calls) == (2, 1)


def test_force_recomputes_a_fresh_value_and_stores_it(cache):
    compute = Counter()
    fetch(cache, compute, "x")
    forced = fetch(cache, compute, "x", force=True)
    assert forced.cached is False and forced.value["call"] == 2
    assert fetch(cache, compute, "x").value["call"] == 2


def test_realtime_tier_is_never_cached(cache):
    compute = Counter()
    fetch(cache, compute, "x", tier="realtime")
    assert fetch(cache, compute, "x", tier="realtime").cached is False
    assert compute.calls == 2


def test_an_expired_value_is_served_at_once_and_refreshed_behind_the_reader_that_wins_the_lock(cache):
    compute = Counter(delay=0.5)
    fetch(cache, compute, "x", tier="short")  # fresh for 1 s
    time.sleep(1.1)
    started = time.perf_counter()
    again = fetch(cache, compute, "x", tier="short")
    assert time.perf_counter() - started < 0.3, "the reader waited for the rebuild"
    assert again.cached and again.stale and again.value["call"] == 1
    deadline = time.monotonic() + 5
    while (latest := fetch(cache, compute, "x", tier="short")).value["call"] == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert latest.value["call"] == 2 and not latest.stale and compute.calls == 2  # refreshed once, in the background


def test_a_failing_background_refresh_keeps_the_stale_value_and_the_next_reader_tries_again(cache):
    compute = Counter()
    fetch(cache, compute, "x", tier="short")
    time.sleep(1.1)
    failing = Counter(fail=True)
    assert fetch(cache, failing, "x", tier="short").value["call"] == 1  # stale, while the refresh fails
    deadline = time.monotonic() + 5
    while failing.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # the failed refresh has released its lock
    again = fetch(cache, compute, "x", tier="short")
    assert again.stale and again.value["call"] == 1 and failing.calls == 1
    deadline = time.monotonic() + 5
    while fetch(cache, compute, "x", tier="short").value["call"] == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fetch(cache, compute, "x", tier="short").value["call"] == 2


def test_an_expired_value_is_served_stale_while_another_process_refreshes_it(cache):
    compute = Counter()
    first = fetch(cache, compute, "x", tier="short")
    time.sleep(1.1)
    cache.redis.set(f"tb:lock:{first.key}", "someone-else", ex=5)  # another process is refreshing
    started = time.perf_counter()
    stale = fetch(cache, compute, "x", tier="short")
    assert time.perf_counter() - started < 0.05
    assert stale.cached and stale.stale and stale.value["call"] == 1 and compute.calls == 1


def test_fifty_concurrent_misses_on_one_key_compute_once(cache):
    compute = Counter(delay=0.3)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: fetch(cache, compute, "hot"), range(50)))
    assert compute.calls == 1
    assert all(r.value == {"label": "hot", "call": 1} for r in results)
    assert sum(not r.cached for r in results) == 1


def test_a_fast_computation_read_by_concurrent_readers_still_runs_once_per_key(cache):
    # The race: a reader misses, the lock holder stores and releases, then the reader wins the
    # lock. It must find the stored value instead of computing it a second time.
    computes = {f"k{i}": Counter() for i in range(150)}
    barrier = threading.Barrier(4)

    def read_every_key(_):
        for label, compute in computes.items():
            barrier.wait()
            fetch(cache, compute, label)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(read_every_key, range(4)))
    twice = [label for label, compute in computes.items() if compute.calls != 1]
    assert not twice, f"computed more than once: {twice}"


def test_a_waiter_computes_itself_when_the_lock_holder_never_delivers(cache):
    cache.wait_seconds = 0.3
    compute = Counter()
    key_probe = fetch(cache, Counter(), "probe", name="other")  # learn the key shape
    key = key_probe.key.replace("s:other:", "s:section:").replace("'probe'", "'x'")
    cache.redis.set(f"tb:lock:{key}", "crashed-process", ex=10)
    started = time.perf_counter()
    result = fetch(cache, compute, "x")
    assert 0.3 <= time.perf_counter() - started < 1.0
    assert result.cached is False and compute.calls == 1


def test_errors_are_not_cached_and_release_the_lock(cache):
    def broken():
        raise RuntimeError("database exploded")

    with pytest.raises(RuntimeError, match="database exploded"):
        cache.fetch("section", ("trades",), "medium", ("x",), broken)
    compute = Counter()
    started = time.perf_counter()
    assert fetch(cache, compute, "x").value["call"] == 1
    assert time.perf_counter() - started < 0.2  # no waiting on a leftover lock


def section_function(name: str, tier: str = "medium", families=("trades",)):
    """What ``fresh_hits`` reads of a @cached_section function."""
    return SimpleNamespace(section_name=name, families=families, tier=tier)


def test_the_fresh_sections_of_a_document_come_in_one_round_trip(cache, monkeypatch):
    compute = Counter()
    for name in ("a", "b", "c"):
        fetch(cache, compute, "30d", name=name)
    fetch(cache, compute, "30d", name="old", tier="short")  # fresh for 1 s
    time.sleep(1.1)
    reads = {name: (section_function(name), ("30d",)) for name in ("a", "b", "c", "missing")}
    reads["old"] = (section_function("old", "short"), ("30d",))
    reads["live"] = (section_function("live", "realtime"), ("30d",))
    sends = []
    send = redis.connection.Connection.send_packed_command
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command",
                        lambda conn, *args, **kwargs: (sends.append(1), send(conn, *args, **kwargs))[1])
    with cache_report() as report:
        hits = cache.fresh_hits(reads)
    assert len(sends) == 1  # one pipelined round trip for every section
    assert set(hits) == {"a", "b", "c"} and hits["b"].value == {"label": "30d", "call": 2} and hits["b"].cached
    assert report.hits == ["a", "b", "c"] and report.misses == []  # the stale and missing ones are left to fetch
    cache.bump("trades")
    assert cache.fresh_hits(reads) == {}  # a write's generation bump reaches these reads too


def test_a_documents_stale_sections_are_served_at_once_and_each_refreshed_once(cache, monkeypatch):
    """Every section of a document past its TTL: one read of them all, one round trip for their
    locks and one for the won keys; the stale values answer, each key is recomputed once in the
    background (a second document read meanwhile starts no second refresh), then they are fresh."""
    first = Counter()
    for name in ("a", "b", "c"):
        fetch(cache, first, "30d", name=name, tier="short")
    time.sleep(1.1)
    refreshes = {name: Counter(delay=0.3) for name in ("a", "b", "c")}
    reads = {}
    for name, compute in refreshes.items():
        function = section_function(name, "short")
        function.__wrapped__ = compute  # what functools.wraps leaves on a @cached_section function
        reads[name] = (function, ("30d",))
    sends = []
    send = redis.connection.Connection.send_packed_command
    caller = threading.get_ident()
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command",
                        lambda conn, *args, **kwargs: (threading.get_ident() == caller and sends.append(1),
                                                       send(conn, *args, **kwargs))[1])
    started = time.perf_counter()
    with cache_report() as report:
        hits = cache.fresh_hits(reads)
    assert time.perf_counter() - started < 0.2  # nobody waited for the 0.3 s recomputations
    assert len(sends) == 3
    assert set(hits) == {"a", "b", "c"} and all(hit.stale and hit.cached for hit in hits.values())
    assert hits["c"].value == {"label": "30d", "call": 3}  # the values stored before they went stale
    assert report.hits == ["a", "b", "c"]
    assert all(hit.stale for hit in cache.fresh_hits(reads).values())  # still refreshing: served stale again
    deadline = time.monotonic() + 5
    while len(fresh := {label: hit for label, hit in cache.fresh_hits(reads).items() if not hit.stale}) < 3:
        assert time.monotonic() < deadline, "the stale sections were not refreshed"
        time.sleep(0.05)
    assert [compute.calls for compute in refreshes.values()] == [1, 1, 1]
    assert fresh["a"].value == {"label": "30d", "call": 1}  # the refresh's own value


def stale_document(cache: SectionCache, *args, names=("a", "b", "c")) -> tuple[dict, dict[str, Counter]]:
    """Sections ``names`` stored, gone stale, and registered as a cache worker knows them
    (``cache.functions``); returns the document's reads and each section's refreshing computation."""
    for name in names:
        fetch(cache, Counter(), *args, name=name, tier="short")
    time.sleep(1.1)
    refreshes = {name: Counter() for name in names}
    reads = {}
    for name, compute in refreshes.items():
        function = section_function(name, "short")
        function.__wrapped__ = compute
        cache.functions[name] = function
        reads[name] = (function, args)
    return reads, refreshes


def wait_until_fresh(cache: SectionCache, reads: dict) -> dict:
    deadline = time.monotonic() + 5
    while len(fresh := {label: hit for label, hit in cache.fresh_hits(reads).items() if not hit.stale}) < len(reads):
        assert time.monotonic() < deadline, "the stale sections were not refreshed"
        time.sleep(0.05)
    return fresh


def test_a_documents_stale_sections_are_handed_to_a_cache_worker_in_one_message(cache):
    """With a cache worker taking refreshes, the web computes nothing: the reader's locks travel
    with the sections' names and arguments (through JSON, as a Celery message), and the worker's
    refresh stores each key once and releases each lock."""
    reads, refreshes = stale_document(cache, "30d", ("acct-1", "acct-2"))
    handed: list[list[SectionRefresh]] = []
    cache.refresh_elsewhere = lambda batch: handed.append(batch) or True
    hits = cache.fresh_hits(reads)
    assert all(hit.stale for hit in hits.values())
    deadline = time.monotonic() + 5
    while not handed:
        assert time.monotonic() < deadline, "nothing was handed over"
        time.sleep(0.01)
    [batch] = handed
    assert [refresh.name for refresh in batch] == ["a", "b", "c"]
    assert all(cache.redis.get(f"tb:lock:{refresh.key}") == refresh.lock.encode() for refresh in batch)
    assert [compute.calls for compute in refreshes.values()] == [0, 0, 0]  # nothing computed in the web

    received = [SectionRefresh.from_message(json.loads(json.dumps(refresh.to_message()))) for refresh in batch]
    assert received == batch  # tuples come back as tuples
    assert cache.refresh_sections(received) == [refresh.key for refresh in batch]
    assert [compute.calls for compute in refreshes.values()] == [1, 1, 1]
    assert refreshes["b"].last_args == ("30d", ("acct-1", "acct-2"))
    assert not any(cache.redis.exists(f"tb:lock:{refresh.key}") for refresh in batch)
    fresh = wait_until_fresh(cache, reads)
    assert fresh["a"].value == {"label": "30d", "call": 1}


def test_a_handed_over_refresh_whose_lock_lapsed_is_left_alone(cache):
    reads, refreshes = stale_document(cache, "30d")
    handed: list[list[SectionRefresh]] = []
    cache.refresh_elsewhere = lambda batch: handed.append(batch) or True
    cache.fresh_hits(reads)
    deadline = time.monotonic() + 5
    while not handed:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [batch] = handed
    cache.redis.delete(f"tb:lock:{batch[1].key}")  # as when the message waited past the lock
    cache.redis.set(f"tb:lock:{batch[2].key}", "another-reader", ex=10)
    assert cache.refresh_sections(batch) == [batch[0].key]
    assert [compute.calls for compute in refreshes.values()] == [1, 0, 0]
    assert cache.redis.get(f"tb:lock:{batch[2].key}") == b"another-reader"  # not released by us


@pytest.mark.parametrize("worker", ["absent", "failing"])
def test_stale_sections_are_refreshed_here_when_no_cache_worker_takes_them(cache, worker):
    reads, refreshes = stale_document(cache, "30d")
    offered = []

    def refresh_elsewhere(batch):
        offered.append(batch)
        if worker == "failing":
            raise ConnectionError("the broker is unreachable")
        return False

    cache.refresh_elsewhere = refresh_elsewhere
    assert all(hit.stale for hit in cache.fresh_hits(reads).values())
    wait_until_fresh(cache, reads)
    assert len(offered) == 1 and [compute.calls for compute in refreshes.values()] == [1, 1, 1]


def test_a_section_whose_arguments_would_not_survive_a_message_is_refreshed_here(cache):
    reads, refreshes = stale_document(cache, dt.date(2026, 12, 1), names=("dated",))
    offered = []
    cache.refresh_elsewhere = lambda batch: offered.append(batch) or True
    cache.fresh_hits(reads)
    wait_until_fresh(cache, reads)
    assert offered == [] and refreshes["dated"].calls == 1


def test_report_collects_hits_misses_and_the_oldest_value(cache):
    compute = Counter()
    fetch(cache, compute, "x", name="overview")
    with cache_report() as report:
        fetch(cache, compute, "x", name="overview")
        fetch(cache, compute, "y", name="accounts")
        fetch(cache, compute, "z", name="positions", tier="realtime")
    assert report.hits == ["overview"] and report.misses == ["accounts"]
    assert report.degraded is False and report.oldest is not None


def test_clear_removes_only_matching_sections(cache):
    compute = Counter()
    fetch(cache, compute, "x", name="client_overview")
    fetch(cache, compute, "x", name="strategy_heatmap")
    assert cache.clear("client_*") == 1
    assert fetch(cache, compute, "x", name="client_overview").cached is False
    assert fetch(cache, compute, "x", name="strategy_heatmap").cached is True


def test_redis_down_serves_from_the_database_and_caching_resumes_when_it_returns(cache, redis_server):
    compute = Counter()
    fetch(cache, compute, "x")
    redis_server.stop()

    started = time.perf_counter()
    with cache_report() as report:
        degraded = fetch(cache, compute, "x")
    assert time.perf_counter() - started < 1.5  # short socket timeouts: no hang
    assert degraded.cached is False and degraded.value["call"] == 2
    assert report.degraded and report.misses == ["section"]
    assert cache.status()["degraded"] is True
    # While down, requests skip Redis entirely for retry_seconds.
    started = time.perf_counter()
    fetch(cache, compute, "x")
    assert time.perf_counter() - started < 0.05

    redis_server.start()  # same port, empty: a restarted Redis
    deadline = time.monotonic() + 10
    while fetch(cache, compute, "x").cached is False or cache.status()["degraded"]:
        assert time.monotonic() < deadline, "caching did not resume"
        time.sleep(0.1)
    assert cache.status()["degraded"] is False


def test_writes_during_an_outage_are_invalidated_on_recovery(cache, redis_server):
    compute = Counter()
    fetch(cache, compute, "x")  # cached before the outage, survives it below
    cache.families.add("trades")
    cache._went_down(ConnectionError("simulated outage"))  # a write happened while Redis was unreachable
    cache.bump("trades")
    time.sleep(0.25)
    recovered = fetch(cache, compute, "x")  # first call after recovery bumps every family
    assert recovered.cached is False and recovered.value["call"] == 2


def test_refuses_to_run_without_redis_unless_null_cache_is_explicit():
    with pytest.raises(CacheNotConfigured, match="needs REDIS_URL"):
        SectionCache().configure(cache_type="RedisCache", redis_url=None, ttl={"short": 1, "medium": 1, "long": 1})
    with pytest.raises(CacheNotConfigured, match="unknown CACHE_TYPE 'SimpleCache'"):
        SectionCache().configure(cache_type="SimpleCache", redis_url=None, ttl={"short": 1, "medium": 1, "long": 1})
    null = SectionCache()
    null.configure(cache_type="NullCache", redis_url=None, ttl={"short": 1, "medium": 1, "long": 1})
    compute = Counter()
    fetch(null, compute, "x")
    assert fetch(null, compute, "x").cached is False and compute.calls == 2
