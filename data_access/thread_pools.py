"""A process-wide thread pool that replaces itself when one of its threads has died.

A test server stopping can kill the threads of pools it did not start (dash[testing] raises
SystemExit in every thread), and a pool with a dead thread never runs the work queued for it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


class HealthyPool:
    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self.max_workers, self.thread_name_prefix = max_workers, thread_name_prefix
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def get(self) -> ThreadPoolExecutor:
        """The pool, a new one when it has none yet or one of its threads has died."""
        with self._lock:
            threads = getattr(self._pool, "_threads", ())
            if self._pool is None or any(not t.is_alive() for t in threads):
                self._discard()
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers,
                                                thread_name_prefix=self.thread_name_prefix)
            return self._pool

    def reset(self) -> None:
        """Forget the pool (its threads finish what they hold); the next ``get`` starts a new one."""
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        self._pool = None
