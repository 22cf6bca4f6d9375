"""The one helper behind every page's per-key ids (``layouts/<page>_ids.py``): an id made from a
template and a key, e.g. a panel's freshness label or a KPI card, typed once per page."""

from __future__ import annotations

from collections.abc import Callable


def id_helper(template: str) -> Callable[[str], str]:
    """The id function of a template with one ``{}``: ``id_helper("client-kpi-{}")("total_aum")`` is
    ``"client-kpi-total_aum"``."""

    def make(key: str) -> str:
        return template.format(key)

    make.__doc__ = f"The id {template!r} for ``key``."
    return make


def panel_ids(page: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """A page's per-panel ids: ``(freshness, error)``, e.g. ``client-kpis-freshness``, ``client-kpis-error``."""
    return id_helper(f"{page}-{{}}-freshness"), id_helper(f"{page}-{{}}-error")


csv_button = id_helper("{}-csv")  # a grid's "Download CSV" button (the grid id + "-csv"), on every page
