"""Settings from the environment, one place for every knob.

`Settings.from_env()` reads `os.environ`; tests build `Settings(...)` with their own values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_var_dir() -> Path:
    return Path(os.environ.get("TRADEBOARD_VAR", PROJECT_ROOT / "var"))


@dataclass(frozen=True)
class Settings:
    # where things live
    DATABASE_URL: str = field(default_factory=lambda: f"sqlite:///{_default_var_dir() / 'tradeboard.db'}")
    REDIS_URL: str | None = None  # None: `tradeboard run` starts a private redis-server
    VAR_DIR: str = field(default_factory=lambda: str(_default_var_dir()))
    SECRET_KEY: str | None = None  # required (shared by every web and worker process); `tradeboard run` makes one
    # connections each process keeps open: a web worker's 16 request threads and 8 section readers use them at
    # once, and with SQLAlchemy's default of 5 the rest were opened and closed around every query (README)
    DATABASE_POOL_SIZE: int = 16

    # security (app/security.py)
    MAX_REQUEST_BYTES: int = 1_000_000  # larger bodies get 413
    MAX_INGEST_BYTES: int = 32_000_000  # an ingest batch's body (POST /api/v1/ingest/<entity>); larger: 413
    MAX_IMPORT_BYTES: int = 300_000_000  # a file uploaded on the /import page (POST /import/upload); larger: 413
    SESSION_COOKIE_SECURE: bool = False  # the cookie is Secure on HTTPS requests anyway
    TRUSTED_PROXY_HOPS: int = 0  # proxies in front whose X-Forwarded-* headers are believed
    LOGIN_RATE_LIMIT_PER_USER: str = "5 per minute"  # failed sign-ins
    LOGIN_RATE_LIMIT_PER_ADDRESS: str = "20 per minute"
    API_RATE_LIMIT: str = ""  # e.g. "600 per minute" per user or token; empty: off
    PUBLIC_ROUTES: str = ""  # comma-separated compatibility routes that need no sign-in, e.g. /health

    # cache: TTL tiers in seconds (real-time sections are not cached at all)
    CACHE_TYPE: str = "RedisCache"  # "NullCache" only when asked for explicitly
    CACHE_TTL_SHORT: int = 30
    CACHE_TTL_MEDIUM: int = 300
    CACHE_TTL_LONG: int = 3600
    CACHE_LOCK_SECONDS: int = 30  # how long one process may hold a key's compute lock
    CACHE_WAIT_SECONDS: float = 5.0  # how long others wait for it before computing themselves
    # true: stale sections are refreshed by a worker of the cache queue while one is alive (tasks/cache.py), and
    # `tradeboard run` starts one. Off by default: in full load runs it did worse than refreshing in the web (README)
    CACHE_REFRESH_ON_WORKERS: bool = False
    CACHE_RETRY_SECONDS: float = 2.0  # after a Redis failure, serve from the database this long before retrying

    # metrics conventions (shared/METRICS.md)
    PERIODS_PER_YEAR: int = 252
    RISK_FREE_RATE: float = 0.0
    BENCHMARK_SYMBOL: str = "SPY"
    VOL_REGIME_LOW_PCT: float = 20.0
    VOL_REGIME_HIGH_PCT: float = 40.0

    # product
    FUND_NAME: str = "Tradeboard Fund"
    # `tradeboard run` seeds demo data into an empty database; false: start with an empty book (as --no-demo)
    TRADEBOARD_DEMO: bool = True
    MARKET_HOURS_ONLY: bool = False

    # live prices (data_access.prices): "bars" (latest stored daily close), "simulated", "http"
    PRICE_PROVIDER: str = "bars"
    PRICE_HTTP_URL_TEMPLATE: str | None = None  # e.g. http://prices.internal/price/{symbol} -> {"price": 123.4}
    PRICE_HTTP_TIMEOUT_SECONDS: float = 2.0  # per request (connect and each read)
    PRICE_HTTP_MAX_IN_FLIGHT: int = 8  # concurrent requests, at most
    PRICE_HTTP_RETRIES: int = 2  # extra attempts on timeouts, connection errors and 5xx

    # gamma exposure (data_access.gex): "simulated" or "http"
    GEX_PROVIDER: str = "simulated"
    GEX_HTTP_URL_TEMPLATE: str | None = None  # e.g. http://gex.internal/gex/{symbol} -> {"gamma_exposure": ...}
    GEX_HTTP_TIMEOUT_SECONDS: float = 2.0
    GEX_HTTP_MAX_IN_FLIGHT: int = 4
    GEX_HTTP_RETRIES: int = 2
    GEX_SYMBOLS: str = "SPY,QQQ"  # comma-separated

    # background refresh (tasks/__init__.py builds the beat schedule from these)
    SCHEDULE_STRATEGY_AGGREGATION_MINUTE: int = 5  # every hour at :05
    SCHEDULE_STALE_CHECK_MINUTES: int = 30
    SCHEDULE_CLIENT_REFRESH_SECONDS: int = 300
    SCHEDULE_SIGNAL_SENDER_REFRESH_SECONDS: int = 900
    SCHEDULE_PAPER_TRADING_REFRESH_SECONDS: int = 30  # its short-tier sections
    SCHEDULE_BEAT_PULSE_SECONDS: int = 30  # beat's own sign of life (health, /ops)
    SCHEDULE_SWEEP_RECOVERY_SECONDS: int = 60  # how often beat looks for sweeps a lost message left unfinished
    SCHEDULE_IMPORT_EXPIRY_MINUTES: int = 60  # how often beat drops files uploaded for /import and never committed
    SCHEDULE_EOD_SUMMARY: str = "16:30"  # on weekdays, in SCHEDULE_TIMEZONE
    SCHEDULE_TIMEZONE: str = "America/New_York"
    STALE_REFRESH_FRACTION: float = 0.2  # check_stale_cache refreshes keys with less than this share of their TTL left
    # how long a task a worker took may stay unacknowledged before Redis hands it to another worker
    # (a worker killed mid-task); must exceed the longest task (15 min)
    CELERY_VISIBILITY_TIMEOUT_SECONDS: int = 16 * 60
    CELERY_RESTORE_SECONDS: int = 10  # how often a worker looks for such abandoned tasks
    WARM_UP_AT_WORKER_START: bool = True  # a starting worker queues a refresh of every dashboard
    EOD_WEBHOOK_URL: str | None = None  # POST the end-of-day summary here when set
    EOD_WEBHOOK_TIMEOUT_SECONDS: float = 5.0

    # monitoring (app/monitoring.py): request timings and cache hit rates in Redis, /metrics, /ops
    SLOW_REQUEST_SECONDS: float = 1.0  # a request slower than this logs a warning and counts as slow
    SLOW_SQL_SECONDS: float = 0.5  # an SQL statement slower than this logs its text and time
    MONITOR_WINDOW_SECONDS: int = 300  # the sliding window of p50/p95/p99 and the windowed counts
    METRICS_PUBLIC: bool = False  # true: GET /metrics needs no credentials (else admins and their tokens)

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f.name)
            if raw is not None:
                values[f.name] = _parse(raw, _PARSERS.get(str(f.type), str), f.name)
        values.update(overrides)
        return cls(**values)

    @property
    def gex_symbols(self) -> list[str]:
        return [s.strip().upper() for s in self.GEX_SYMBOLS.split(",") if s.strip()]

    @property
    def ttl_tiers(self) -> dict[str, int]:
        return {"short": self.CACHE_TTL_SHORT, "medium": self.CACHE_TTL_MEDIUM, "long": self.CACHE_TTL_LONG}


_PARSERS = {"int": int, "float": float, "bool": bool}


def _parse(raw: str, kind: type, name: str):
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{name} must be true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
