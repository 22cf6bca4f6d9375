"""`cached_section`: a data_access function memoized in the process's one `SectionCache`, ``sections``
(bound by the app factory and by the Celery worker)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from data_access.cache.keys import TIERS
from data_access.cache.section_cache import SectionCache
from data_access.cache.values import Cached

sections = SectionCache()


def cached_section(families: str | tuple[str, ...], tier: str, name: str | None = None):
    """Memoize a data_access function whose arguments are primitives.

    ``fn(*args, force=False)`` returns the value; ``fn.fetch(*args, force=False)`` returns a
    ``Cached`` (value, computed_at, cached, stale). ``families`` are the data families it reads.
    """
    family_tuple = (families,) if isinstance(families, str) else tuple(families)
    if tier not in TIERS:
        raise ValueError(f"unknown cache tier {tier!r}; valid tiers: {', '.join(TIERS)}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        section_name = name or fn.__name__
        sections.families.update(family_tuple)
        sections.section_info[section_name] = (family_tuple, tier)

        def fetch(*args: Any, force: bool = False) -> Cached:
            return sections.fetch(section_name, family_tuple, tier, args, lambda: fn(*args), force=force)

        @functools.wraps(fn)
        def wrapper(*args: Any, force: bool = False) -> Any:
            return fetch(*args, force=force).value

        wrapper.fetch = fetch  # type: ignore[attr-defined]
        wrapper.section_name = section_name  # type: ignore[attr-defined]
        wrapper.tier = tier  # type: ignore[attr-defined]
        wrapper.families = family_tuple  # type: ignore[attr-defined]
        sections.functions[section_name] = wrapper
        return wrapper

    return decorate
