"""A real HTTP server on 127.0.0.1 for provider tests, whose behaviour a test switches per symbol.

``GET /price/<symbol>`` -> ``{"price": ...}``; ``GET /gex/<symbol>`` -> ``{"gamma_exposure": ...,
"call_wall": ..., "put_wall": ...}``. Per symbol (``server.set(symbol, mode, ...)``):

- ``ok``: 200 with the symbol's value (after ``delay`` seconds, default 0)
- ``slow``: sleeps ``delay`` seconds (longer than the client's timeout), then answers
- ``500``: HTTP 500
- ``bad-json``: 200 with a body that is not JSON
- ``fail-then-ok``: HTTP 500 for the first ``failures`` requests, then ``ok``
- ``ticking``: like ``ok``, but the price rises by 1 with every request (the first answers ``value``)

It counts requests per symbol and the most requests in progress at once (``max_concurrent``).
Unknown symbols get 404.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 drops bursts of connections (1 s SYN retries)
    daemon_threads = True


@dataclass
class Behaviour:
    mode: str = "ok"
    value: dict[str, Any] | None = None
    delay: float = 0.0
    failures: int = 0


class ProviderServer:
    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ProviderServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def set(self, symbol: str, mode: str = "ok", value: dict[str, Any] | None = None, *, delay: float = 0.0,
            failures: int = 0) -> None:
        with self._lock:
            old = self.behaviours.get(symbol)
            self.behaviours[symbol] = Behaviour(mode, value if value is not None else (old.value if old else None),
                                                delay, failures)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_concurrent = 0

    # ------------------------------------------------------------------ the handler

    def _respond(self, symbol: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests[symbol] += 1
            count = self.requests[symbol]
            behaviour = self.behaviours.get(symbol)
        if behaviour is None:
            return 404, b'{"error": "unknown symbol"}'
        mode = behaviour.mode
        if mode == "fail-then-ok":
            mode = "500" if count <= behaviour.failures else "ok"
        if behaviour.delay:
            self._stopping.wait(behaviour.delay)
        if mode == "500":
            return 500, b'{"error": "upstream exploded"}'
        if mode == "bad-json":
            return 200, b"<html>not json"
        if mode in ("ok", "slow"):
            return 200, json.dumps(behaviour.value or {}).encode()
        if mode == "ticking":
            return 200, json.dumps({**behaviour.value, "price": behaviour.value["price"] + count - 1}).encode()
        raise ValueError(f"unknown mode {mode!r}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                with server._lock:
                    server.in_flight += 1
                    server.max_concurrent = max(server.max_concurrent, server.in_flight)
                try:
                    parts = self.path.strip("/").split("/")
                    if len(parts) != 2 or parts[0] not in ("price", "gex"):
                        status, body = 404, b'{"error": "not found"}'
                    else:
                        status, body = server._respond(unquote(parts[1]))
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timed out) first
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
