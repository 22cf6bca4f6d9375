"""One measured run of the load test (bench/load.py): wrk against an endpoint, its figures as a `Result`,
and what makes the hot keys expire or vanish under load."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load_servers import get, settle

LUA = Path(__file__).resolve().parent / "load_report.lua"


@dataclass
class Result:
    phase: str  # warm | expiry | eviction | floor | nocache
    endpoint: str
    connections: int
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50: float = 0.0  # ms
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    errors: int = 0
    error_detail: str = ""
    bytes_per_response: float = 0.0
    target: str = ""
    verdict: str = ""
    extra: dict = field(default_factory=dict)


def run_wrk(url: str, connections: int, duration: float, token: str | None) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s",
            "-s", str(LUA)]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("TBLOAD ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    data = json.loads(line[len("TBLOAD "):])
    data["raw"] = out.stdout
    return data


def to_result(phase: str, endpoint: str, connections: int, data: dict) -> Result:
    seconds = data["duration_us"] / 1e6
    errors = {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    return Result(
        phase=phase, endpoint=endpoint, connections=connections, requests=data["requests"], seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50=data["p50"] / 1000, p95=data["p95"] / 1000, p99=data["p99"] / 1000, max=data["max"] / 1000,
        errors=sum(errors.values()), error_detail=", ".join(f"{k} {v}" for k, v in errors.items()),
        bytes_per_response=data["bytes"] / data["requests"] if data["requests"] else 0.0,
    )


def measure(phase: str, endpoint: str, base: str, path: str, connections: int, duration: float,
            token: str | None, settle_url: str) -> Result:
    print(f"  {phase:<8} {endpoint:<14} c={connections:<4} ... ", end="", flush=True)
    result = to_result(phase, endpoint, connections, run_wrk(base + path, connections, duration, token))
    print(f"{result.rps:8.0f} req/s  p50 {result.p50:7.1f}  p95 {result.p95:7.1f}  p99 {result.p99:7.1f}  "
          f"max {result.max:7.1f} ms  errors {result.errors}", flush=True)
    settle(settle_url, None)
    return result


class KeyExpirer(threading.Thread):
    """Every ``every`` seconds until stopped, the hot section keys either go past their TTL
    (``mode="stale"``: each stored value's ``fresh_until`` is moved into the past, as when its TTL
    ends: the cache keeps it one more TTL as stale) or are deleted (``mode="delete"``: as when Redis
    evicts them or an operator clears them, so the next read is a true miss)."""

    def __init__(self, redis_url: str, pattern: str, mode: str, every: float = 1.0):
        super().__init__(daemon=True)
        import redis
        from cachelib.serializers import RedisSerializer

        self.redis = redis.Redis.from_url(redis_url)
        self.serializer = RedisSerializer()
        self.pattern, self.mode, self.every = pattern, mode, every
        self.stopped = threading.Event()
        self.touched = 0
        self.rounds = 0

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            keys = list(self.redis.scan_iter(match=self.pattern, count=1000))  # locks are tb:lock:*, never matched
            if keys and self.mode == "delete":
                self.touched += int(self.redis.delete(*keys))
            elif keys:
                self.touched += self._make_stale(keys)
            self.rounds += 1

    def _make_stale(self, keys: list[bytes]) -> int:
        made = 0
        for key, stored in zip(keys, self.redis.mget(keys)):
            try:
                entry = self.serializer.loads(stored) if stored else None
            except Exception:  # noqa: BLE001 - not a section entry (a generation counter, a lock)
                continue
            if not isinstance(entry, dict) or "fresh_until" not in entry:
                continue
            entry["fresh_until"] = time.time() - 0.001
            if self.redis.set(key, self.serializer.dumps(entry), keepttl=True, xx=True):
                made += 1
        return made


def cold_build_ms(base: str, path: str, token: str, redis_url: str, pattern: str, repeats: int = 3) -> float:
    """The endpoint's answer time right after its keys are deleted, on an otherwise idle server (the
    median of ``repeats``): the one rebuild an eviction costs when nothing else competes for the CPU."""
    import redis

    client = redis.Redis.from_url(redis_url)
    times = []
    for _ in range(repeats):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
        status, body, took = get(base + path, token)
        if status != 200:
            raise RuntimeError(f"{path} answered {status} after its keys were deleted: {body[:300]!r}")
        times.append(took * 1000)
    return sorted(times)[len(times) // 2]
