"""numba for the one loop numpy cannot vectorise (`backtest.book`'s sizing of orders one after the
other), loaded only when a run is long enough to pay for it.

numba is imported on first use, not at start-up: a process that never settles a long run never
loads it. The compiled code is cached on disk (numba's ``cache=True``, next to the module's
bytecode), so only the first process after an install or an upgrade compiles; the others load it.
The function compiled is the very one that runs as plain Python on short runs, and numba keeps
IEEE arithmetic (no fast-math), so both give the same bits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


@functools.cache
def compiled(function: Callable) -> Callable | None:
    """``function`` compiled with numba, or None where numba is not installed."""
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True)(function)
