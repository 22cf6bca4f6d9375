"""Plotly figures from plain lists (never numpy/pandas columns: plotly 6+ would send binary blobs)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

UP, DOWN, ACCENT, MUTED = "#198754", "#dc3545", "#0d6efd", "#6c757d"


def _base(fig: go.Figure, *, legend: bool = False) -> go.Figure:
    # Transparent backgrounds and grey gridlines read well in both the light and the dark theme.
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": "#8a939c", "size": 12},
        showlegend=legend,
        hovermode="x unified",
        uirevision="keep",  # keep zoom across auto-refreshes
    )
    fig.update_xaxes(gridcolor="rgba(128,128,128,0.15)", zeroline=False)
    fig.update_yaxes(gridcolor="rgba(128,128,128,0.15)", zeroline=False)
    return fig


def empty_figure(message: str) -> go.Figure:
    fig = _base(go.Figure())
    fig.update_layout(hovermode=False)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, showarrow=False, font={"size": 14})
    return fig


def equity_drawdown_figure(curve: list[dict]) -> go.Figure:
    if not curve:
        return empty_figure("No equity snapshots in this range")
    dates = [p["date"] for p in curve]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=dates, y=[p["equity"] for p in curve], name="Equity", mode="lines",
                             line={"color": ACCENT, "width": 2}, hovertemplate="%{y:,.0f}"), row=1, col=1)
    fig.add_trace(go.Scatter(x=dates, y=[p["drawdown_pct"] for p in curve], name="Drawdown", mode="lines",
                             fill="tozeroy", line={"color": DOWN, "width": 1}, hovertemplate="%{y:.2f} %"),
                  row=2, col=1)
    _base(fig)
    fig.update_yaxes(tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(ticksuffix=" %", row=2, col=1)
    return fig


def allocation_figure(strategies: list[dict]) -> go.Figure:
    allocated = [(s["strategy_name"], s["allocation"]) for s in strategies if s["allocation"] > 0]
    if not allocated:
        return empty_figure("No strategy has an allocation")
    labels = [name for name, _ in allocated]
    values = [share for _, share in allocated]
    unallocated = 1.0 - sum(values)
    if unallocated > 1e-9:
        labels.append("Unallocated")
        values.append(unallocated)
    fig = go.Figure(go.Pie(labels=labels, values=values, hole=0.55, sort=False, textinfo="percent",
                           hovertemplate="%{label}: %{percent}<extra></extra>"))
    _base(fig, legend=True)
    fig.update_layout(hovermode=False, legend={"orientation": "h", "y": -0.05})
    return fig


def daily_returns_figure(returns: list[dict]) -> go.Figure:
    if not returns:
        return empty_figure("Not enough days for returns")
    values = [r["return_pct"] for r in returns]
    fig = go.Figure(go.Bar(x=[r["date"] for r in returns], y=values,
                           marker_color=[UP if v >= 0 else DOWN for v in values], hovertemplate="%{y:.3f} %"))
    _base(fig)
    fig.update_yaxes(ticksuffix=" %")
    return fig
