"""Plotly figures from plain lists (never numpy/pandas columns: plotly 6+ would send binary blobs)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

UP, DOWN, ACCENT, MUTED = "#198754", "#dc3545", "#0d6efd", "#6c757d"
DAY_MS = 86_400_000
FEW_DAYS = 15


def _few_days(fig: go.Figure, dates: list) -> None:
    """Under FEW_DAYS days, one tick a day: left alone, plotly ticks a two-day series every 12 hours."""
    if len(dates) < FEW_DAYS:
        fig.update_xaxes(dtick=DAY_MS, tickformat="%b %-d")


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
    _few_days(fig, dates)
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
    dates = [r["date"] for r in returns]
    # a few bars get a day's width each (plotly would stretch a lone bar across the axis)
    width = [DAY_MS * 0.7] * len(values) if len(values) < FEW_DAYS else None
    fig = go.Figure(go.Bar(x=dates, y=values, width=width, marker_color=[UP if v >= 0 else DOWN for v in values],
                           hovertemplate="%{y:.3f} %"))
    _base(fig)
    _few_days(fig, dates)
    fig.update_yaxes(ticksuffix=" %")
    return fig


def cumulative_pnl_figure(points: list[dict]) -> go.Figure:
    if not points:
        return empty_figure("No closed trades in this range")
    values = [p["pnl"] for p in points]
    fig = go.Figure(go.Scatter(x=[p["date"] for p in points], y=values, mode="lines+markers", name="Cumulative PnL",
                               line={"color": UP if values[-1] >= 0 else DOWN, "width": 2, "shape": "hv"},
                               marker={"size": 4}, fill="tozeroy", hovertemplate="%{y:,.2f}"))
    _base(fig)
    _few_days(fig, [p["date"] for p in points])
    fig.update_yaxes(tickformat=",.0f")
    return fig


def latency_histogram_figure(histogram: dict | None, lag: dict | None) -> go.Figure:
    """Bars from precomputed bin edges and counts (0 to p99), slower fills as one grey bar, and
    p50/p95/p99 as vertical lines labelled at staggered heights."""
    edges, counts = (histogram or {}).get("bin_edges") or [], (histogram or {}).get("counts") or []
    if not counts:
        return empty_figure("No filled signals in this range")
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure(go.Bar(x=centers, y=counts, width=widths, marker_color=ACCENT, name="Fills",
                           customdata=[[a, b] for a, b in zip(edges[:-1], edges[1:])],
                           hovertemplate="%{customdata[0]:.2f}–%{customdata[1]:.2f} s: %{y} fills<extra></extra>"))
    overflow = (histogram or {}).get("overflow") or 0
    if overflow:
        width = widths[-1]
        fig.add_trace(go.Bar(x=[edges[-1] + width], y=[overflow], width=[width], marker_color=MUTED, name="Slower",
                             hovertemplate=f"> {edges[-1]:.2f} s: %{{y}} fills<extra></extra>"))
    _base(fig)
    fig.update_layout(hovermode="closest", bargap=0.05, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    for i, (key, label, dash) in enumerate((("median", "p50", "solid"), ("p95", "p95", "dash"), ("p99", "p99", "dot"))):
        value = (lag or {}).get(f"{key}_signal_to_fill_seconds")
        if value is None:
            continue
        color = UP if key == "median" else DOWN
        fig.add_vline(x=value, line={"color": color, "dash": dash, "width": 2})
        fig.add_annotation(x=value, y=1.0 - 0.09 * i, xref="x", yref="paper", text=f"{label} {value:.2f} s",
                           showarrow=False, xanchor="left", xshift=3, font={"size": 11, "color": color},
                           bgcolor="rgba(128,128,128,0.12)")
    fig.update_xaxes(title_text="seconds from signal to fill", ticksuffix=" s", rangemode="tozero")
    fig.update_yaxes(title_text="fills")
    return fig


def rejection_reasons_figure(reasons: list[dict]) -> go.Figure:
    if not reasons:
        return empty_figure("No rejected signals in this range")
    ordered = list(reversed(reasons))  # largest at the top of a horizontal bar chart
    fig = go.Figure(go.Bar(x=[r["count"] for r in ordered], y=[r["reason"] for r in ordered], orientation="h",
                           marker_color=DOWN, hovertemplate="%{y}: %{x}<extra></extra>"))
    _base(fig)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(automargin=True)
    if max(r["count"] for r in reasons) <= 10:
        fig.update_xaxes(tick0=0, dtick=1)  # counts: whole ticks only
    else:
        fig.update_xaxes(tickformat=",d")
    return fig
