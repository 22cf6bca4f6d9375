"""Figures of the operations page, from plain lists."""

from __future__ import annotations

import plotly.graph_objects as go

from callbacks.figures import ACCENT, DOWN, UP, _base, empty_figure

MAX_BARS = 15
WARN = "#fd7e14"


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def p95_figure(rows: list[dict], slow_ms: float) -> go.Figure:
    """p95 per endpoint (the slowest MAX_BARS), as horizontal bars: red past the slow threshold."""
    timed = sorted((r for r in rows if r.get("p95_ms") is not None), key=lambda r: r["p95_ms"])[-MAX_BARS:]
    if not timed:
        return empty_figure("No requests in the window yet")
    values = [r["p95_ms"] for r in timed]
    fig = go.Figure(go.Bar(
        x=values, y=[_short(r["endpoint"]) for r in timed], orientation="h",
        marker={"color": [DOWN if v > slow_ms else WARN if v > slow_ms / 4 else ACCENT for v in values]},
        customdata=[[r["endpoint"], r["count"]] for r in timed],
        hovertemplate="%{customdata[0]}<br>p95 %{x:,.1f} ms over %{customdata[1]} requests<extra></extra>",
    ))
    _base(fig)
    fig.update_layout(hovermode="closest", margin={"l": 10, "r": 10, "t": 10, "b": 30})
    fig.update_xaxes(ticksuffix=" ms", rangemode="tozero")
    fig.update_yaxes(automargin=True, tickfont={"size": 11})
    return fig


def hit_rate_figure(rows: list[dict]) -> go.Figure:
    """Hit rate per data family (families never read are left out)."""
    read = [r for r in rows if r.get("hit_rate") is not None]
    if not read:
        return empty_figure("No cached section was read yet")
    rates = [round(r["hit_rate"] * 100.0, 1) for r in read]
    fig = go.Figure(go.Bar(
        x=[r["family"] for r in read], y=rates,
        marker={"color": [UP if v >= 80 else WARN if v >= 50 else DOWN for v in rates]},
        customdata=[[r["hits"], r["misses"]] for r in read],
        hovertemplate="%{x}: %{y:.1f} %<br>%{customdata[0]} hits, %{customdata[1]} misses<extra></extra>",
    ))
    _base(fig)
    fig.update_layout(hovermode="closest", margin={"l": 10, "r": 10, "t": 10, "b": 30})
    fig.update_yaxes(range=[0, 100], ticksuffix=" %")
    return fig
