"""Reading the figures back from Redis: per-endpoint request counts and percentiles, per-family cache
hit rates, the cached section keys."""

from __future__ import annotations

import math
import time
from typing import Any

import redis

from app.monitoring.keys import (
    BUCKET_SECONDS,
    BUCKETS_KEY,
    COUNT_FIELDS,
    ENDPOINTS_KEY,
    QUANTILES,
    SAMPLES_KEY,
    TOTALS_KEY,
)
from data_access.cache import sections


def _quantile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ordered list (None when empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def request_stats(client: redis.Redis, window: int, now: float | None = None) -> list[dict[str, Any]]:
    """Per endpoint: over the window ``count``, ``errors`` (5xx), ``client_errors`` (4xx), ``slow``,
    ``p50/p95/p99_seconds`` (of the latest SAMPLE_CAP requests in it); since the start ``total_*``."""
    now = time.time() if now is None else now
    endpoints = sorted(m.decode() for m in client.smembers(ENDPOINTS_KEY))
    if not endpoints:
        return []
    buckets = range(int((now - window) // BUCKET_SECONDS) + 1, int(now // BUCKET_SECONDS) + 1)
    pipe = client.pipeline(transaction=False)
    for endpoint in endpoints:
        pipe.zrangebyscore(SAMPLES_KEY + endpoint, now - window, "+inf")
        pipe.hgetall(TOTALS_KEY + endpoint)
        for bucket in buckets:
            pipe.hgetall(f"{BUCKETS_KEY}{endpoint}:{bucket}")
    replies = iter(pipe.execute())
    rows = []
    for endpoint in endpoints:
        durations = sorted(float(m.split(b":", 1)[0]) for m in next(replies))
        totals = {k.decode(): float(v) for k, v in next(replies).items()}
        counts = dict.fromkeys(COUNT_FIELDS, 0)
        for _ in buckets:
            for name, value in next(replies).items():
                counts[name.decode()] = counts.get(name.decode(), 0) + int(value)
        row: dict[str, Any] = {"endpoint": endpoint, **counts, "samples": len(durations)}
        for q in QUANTILES:
            row[f"p{round(q * 100)}_seconds"] = _quantile(durations, q)
        row["max_seconds"] = durations[-1] if durations else None
        for name in COUNT_FIELDS:
            row[f"total_{name}"] = int(totals.get(name, 0))
        row["total_seconds"] = round(totals.get("seconds", 0.0), 6)
        rows.append(row)
    return rows


def family_stats(client: redis.Redis) -> list[dict[str, Any]]:
    """Per data family: cache hits, misses and hit rate (0..1, None before any read), every process's."""
    flush_family_reads(client)
    stats = sections.family_stats(client)
    rows = []
    for family in sorted(set(stats) | sections.families):
        hits, misses = stats.get(family, {}).get("hits", 0), stats.get(family, {}).get("misses", 0)
        rows.append({"family": family, "hits": hits, "misses": misses,
                     "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None})
    return rows


def flush_family_reads(client: redis.Redis) -> None:
    """Write this process's pending per-family counts now (a reader should see its own process's reads)."""
    counts = sections.drain_family_reads()
    if counts:
        pipe = client.pipeline(transaction=False)
        sections.add_family_reads(pipe, counts)
        pipe.execute()


def cache_keys(client: redis.Redis, limit: int = 500) -> dict[str, Any]:
    """Up to ``limit`` cached sections: section, families, arguments, age and TTL left.

    A section's value is stored for two TTLs of its tier, so its age is ``2 * ttl - ttl left``
    (no value is read: one PTTL and STRLEN per key); fresh while more than one TTL is left.
    ``current`` is false when a family was bumped since (the key will never be read again).
    """
    from data_access.cache import KEY_PREFIX

    keys = []
    for key in client.scan_iter(match=f"{KEY_PREFIX}s:*", count=500):
        keys.append(key)
        if len(keys) >= limit:
            break
    generation_keys = sorted({f"{KEY_PREFIX}gen:{f}" for f in sections.families})
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
        pipe.strlen(key)
    pipe.mget(generation_keys) if generation_keys else None
    replies = pipe.execute()
    generations = {}
    if generation_keys:
        generations = {k[len(KEY_PREFIX) + 4:]: int(v or 0) for k, v in zip(generation_keys, replies[-1])}
    rows = []
    for index, raw in enumerate(keys):
        pttl, size = replies[2 * index], replies[2 * index + 1]
        if pttl is None or pttl < 0:
            continue  # gone between SCAN and PTTL
        text = raw.decode(errors="replace")[len(KEY_PREFIX) + 2:]
        name, _, rest = text.partition(":")
        gen_part, _, args = rest.partition(":")
        families, tier = sections.section_info.get(name, ((), None))
        ttl = sections.ttl.get(tier) if tier else None
        left = pttl / 1000.0
        key_generations = gen_part[1:].split(".") if gen_part.startswith("g") else []
        current = all(str(generations.get(f, 0)) == g for f, g in zip(families, key_generations))
        rows.append({
            "key": text, "section": name, "family": ", ".join(families) or "?", "tier": tier, "args": args,
            "age_seconds": round(2 * ttl - left, 1) if ttl else None,
            "ttl_left_seconds": round(left, 1),
            "fresh": (left > ttl) if ttl else None, "current": current, "bytes": int(size or 0),
        })
    rows.sort(key=lambda r: (r["section"], r["args"]))
    return {"keys": rows, "truncated": len(keys) >= limit, "limit": limit, "generations": generations}
