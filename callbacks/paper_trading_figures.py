"""Figures of the paper-trading page, from plain lists (never numpy/pandas columns: plotly 6+ would
send binary blobs). The shared look (theme-neutral colours, margins) comes from callbacks/figures.py."""

from __future__ import annotations

import plotly.graph_objects as go

from callbacks import figures


def pnl_curve_figure(curve: dict | None) -> go.Figure:
    """Cumulative realized PnL of the paper book, one point per day with closed trades."""
    points = (curve or {}).get("data_points") or []
    if not points:
        return figures.empty_figure("No closed paper trades yet")
    fig = figures.cumulative_pnl_figure([{"date": p["date"], "pnl": float(p["pnl"])} for p in points])
    fig.update_traces(name="Cumulative realized PnL", hovertemplate="%{x}: $%{y:,.2f}<extra></extra>")
    fig.update_layout(hovermode="closest")
    return fig


def daily_returns_figure(returns: dict | None) -> go.Figure:
    """Each day's realized PnL over the book's equity at the start of the day: green up, red down;
    the hover also gives the day's PnL in dollars."""
    days = [r for r in ((returns or {}).get("returns") or []) if r.get("return_pct") is not None]
    if not days:
        return figures.empty_figure("No days with closed paper trades yet")
    fig = figures.daily_returns_figure([{"date": r["date"], "return_pct": float(r["return_pct"])} for r in days])
    fig.update_traces(customdata=[float(r["pnl"]) for r in days],
                      hovertemplate="%{x}: %{y:.3f} % ($%{customdata:,.2f})<extra></extra>")
    fig.update_layout(hovermode="closest", bargap=0.15)
    return fig
