"""Concurrent JSON ``GET``s for many symbols: a cap on requests in flight, timeouts, retries with backoff."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import quote as url_quote

import urllib3


class HttpFetcher:
    """JSON ``GET``s of ``url_template.format(symbol=...)`` for many symbols at once.

    At most ``max_in_flight`` requests are open at any moment (a semaphore shared by every call on
    this fetcher, so concurrent callers share the cap too, and a connection pool of that size).
    Each attempt has ``timeout_seconds`` to connect and for each read; timeouts, connection errors
    and 5xx answers are retried ``retries`` times with backoff ``backoff_seconds`` x 1, 2, 4...
    A call never takes much longer than ``timeout x (retries + 1)`` plus the backoff: symbols still
    running then are reported as timed out.
    """

    RETRY_STATUSES = frozenset({500, 502, 503, 504})

    def __init__(self, url_template: str, *, timeout_seconds: float = 2.0, max_in_flight: int = 8,
                 retries: int = 2, backoff_seconds: float = 0.05) -> None:
        if "{symbol}" not in url_template:
            raise ValueError(f"the URL template must contain {{symbol}}, got {url_template!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        self.url_template = url_template
        self.timeout_seconds = float(timeout_seconds)
        self.max_in_flight = int(max_in_flight)
        self.retries = max(0, int(retries))
        self.backoff_seconds = backoff_seconds
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=self.max_in_flight, block=False,
            timeout=urllib3.Timeout(connect=self.timeout_seconds, read=self.timeout_seconds),
        )

    def url(self, symbol: str) -> str:
        return self.url_template.format(symbol=url_quote(symbol, safe=""))

    @property
    def budget_seconds(self) -> float:
        """The longest one symbol may take: every attempt timing out, plus the backoff between them."""
        backoff = sum(self._backoff(n) for n in range(1, self.retries + 1))
        return self.timeout_seconds * (self.retries + 1) + backoff

    def _backoff(self, retry_number: int) -> float:
        return self.backoff_seconds * (2 ** (retry_number - 1))

    def get_one(self, symbol: str) -> Any:
        """The decoded JSON body for ``symbol``; raises on failure after the retries."""
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._backoff(attempt))
            try:
                with self._slots:
                    response = self._pool.request("GET", self.url(symbol), retries=False, preload_content=True,
                                                  headers={"Accept": "application/json"})
            except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, protocol errors
                last_error = exc
                continue
            if response.status in self.RETRY_STATUSES:
                last_error = RuntimeError(f"HTTP {response.status}")
                continue
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            try:
                return json.loads(response.data)
            except ValueError as exc:
                raise ValueError(f"bad JSON: {exc}") from None
        raise last_error or RuntimeError("no attempt made")

    def get_many(self, symbols: list[str], parse: Callable[[str, Any], Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """``(symbol -> parse(symbol, body), symbol -> failure reason)`` for every symbol."""
        if not symbols:
            return {}, {}
        values: dict[str, Any] = {}
        failures: dict[str, str] = {}

        def one(symbol: str) -> Any:
            return parse(symbol, self.get_one(symbol))

        executor = ThreadPoolExecutor(max_workers=min(self.max_in_flight, len(symbols)),
                                      thread_name_prefix="tb-http")
        try:
            futures = {executor.submit(one, symbol): symbol for symbol in symbols}
            # Symbols queue behind the cap, so the deadline grows with the number of "waves".
            waves = math.ceil(len(symbols) / self.max_in_flight)
            done, pending = wait(futures, timeout=self.budget_seconds * waves + 0.5)
            for future in done:
                symbol = futures[future]
                try:
                    values[symbol] = future.result()
                except Exception as exc:  # noqa: BLE001 - any failure of one symbol is that symbol's
                    failures[symbol] = reason(exc)
            for future in pending:
                future.cancel()
                failures[futures[future]] = "timed out"
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return values, failures


def reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError) or "timed out" in text.lower():
        return "timed out"
    return f"{type(exc).__name__}: {text}"[:200]
