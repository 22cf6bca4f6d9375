"""A Redis client that fails fast, for health checks, heartbeats and anything else that must not hang
on a black-holed Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import redis


def make_redis(url: str, timeout: float = 0.5) -> redis.Redis:
    """A client that fails fast: short connect/read timeouts, no retries, no keepalive surprises."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )
