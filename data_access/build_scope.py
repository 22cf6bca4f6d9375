"""One object per dashboard build, reachable from the build's own thread and the threads it hands
its context to, and closed when the build ends."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def for_this_build(var: contextvars.ContextVar[Any], scoped: T) -> Iterator[T]:
    """``scoped`` in ``var`` within the block; ``scoped.open`` is False afterwards, so work left running
    in a copy of the build's context (a stale section refreshed in the background) stops using it."""
    token = var.set(scoped)
    try:
        yield scoped
    finally:
        scoped.open = False
        var.reset(token)
