"""Figures of the strategy-performance page, from plain lists (plotly 6+ would send numpy as binary)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from callbacks.figures import ACCENT, DOWN, MUTED, UP, _base, empty_figure

EXIT = "#0d6efd"  # exit markers: blue
REGIME_COLORS = {"low": "#20c997", "medium": "#fd7e14", "high": "#dc3545"}


MODEBAR_CLEARANCE = 30  # px of top margin under Plotly's modebar (about 26 px tall), so it covers no content


def _signed(values: list[float | None]) -> list[str]:
    return [MUTED if v is None else UP if v >= 0 else DOWN for v in values]


def volatility_figure(rows: list[dict]) -> go.Figure:
    """Mean Sharpe and mean return per volatility regime, side by side; the run count under each."""
    if not rows:
        return empty_figure("No completed backtests in this range")
    labels = [f"{r['regime'] or 'unknown'}<br>n={r['count']:,}" for r in rows]
    custom = [[r["count"], r["avg_max_drawdown_pct"], r["avg_win_rate_pct"], r["total_trades"]] for r in rows]
    hover = ("%{y:.2f}<br>%{customdata[0]} runs · mean max DD %{customdata[1]:.1f} % · "
             "win rate %{customdata[2]:.1f} % · %{customdata[3]:,} trades<extra></extra>")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Mean Sharpe", "Mean return %"), horizontal_spacing=0.14)
    sharpe = [r["avg_sharpe"] for r in rows]
    returns = [r["avg_return_pct"] for r in rows]
    colors = [REGIME_COLORS.get(r["regime"], MUTED) for r in rows]
    fig.add_trace(go.Bar(x=labels, y=sharpe, name="Mean Sharpe", marker_color=colors, customdata=custom,
                         text=[None if v is None else f"{v:.2f}" for v in sharpe], textposition="outside",
                         cliponaxis=False, hovertemplate=hover), row=1, col=1)
    fig.add_trace(go.Bar(x=labels, y=returns, name="Mean return %", marker_color=colors, customdata=custom,
                         text=[None if v is None else f"{v:.1f} %" for v in returns], textposition="outside",
                         cliponaxis=False, hovertemplate=hover.replace("%{y:.2f}", "%{y:.2f} %")), row=1, col=2)
    _base(fig)
    # the subplot titles sit below the modebar's row (it covered "Mean return %" at the top right)
    fig.update_layout(hovermode="closest", margin={"l": 10, "r": 10, "t": MODEBAR_CLEARANCE + 16, "b": 10})
    fig.update_annotations(font={"size": 12})
    fig.update_yaxes(zeroline=True, zerolinecolor="rgba(128,128,128,0.5)")
    fig.update_yaxes(ticksuffix=" %", row=1, col=2)
    # short horizontal labels: at phone width Plotly turned "medium / 1,234 runs" vertical and cut it at the bottom
    fig.update_xaxes(tickangle=0, tickfont={"size": 11}, automargin=True)
    return fig


def symbol_figure(rows: list[dict]) -> go.Figure:
    """Mean Sharpe per symbol (green above zero, red below), the run count on each bar."""
    if not rows:
        return empty_figure("No completed backtests in this range")
    sharpe = [r["avg_sharpe"] for r in rows]
    custom = [[r["count"], r["avg_return_pct"], r["avg_max_drawdown_pct"], r["avg_win_rate_pct"]] for r in rows]
    fig = go.Figure(go.Bar(
        x=[r["symbol"] for r in rows], y=sharpe, marker_color=_signed(sharpe), customdata=custom,
        text=[f"n={r['count']}" for r in rows], textposition="outside", cliponaxis=False,
        hovertemplate=("<b>%{x}</b>: mean Sharpe %{y:.2f}<br>%{customdata[0]} runs · mean return "
                       "%{customdata[1]:.1f} % · mean max DD %{customdata[2]:.1f} % · win rate "
                       "%{customdata[3]:.1f} %<extra></extra>")))
    _base(fig)
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(title_text="Mean Sharpe", zeroline=True, zerolinecolor="rgba(128,128,128,0.5)")
    return fig


def sharpe_over_time_figure(points: list[dict]) -> go.Figure:
    """Mean Sharpe of the runs completed per day (per week for "all")."""
    if not points:
        return empty_figure("No completed backtests in this range")
    period = points[0].get("period", "day")
    fig = go.Figure(go.Scatter(
        x=[p["date"] for p in points], y=[p["avg_sharpe"] for p in points], mode="lines+markers",
        name=f"Mean Sharpe per {period}", line={"color": ACCENT, "width": 2}, marker={"size": 5},
        customdata=[p["count"] for p in points], connectgaps=True,
        hovertemplate=f"mean Sharpe %{{y:.2f}} · %{{customdata}} runs that {period}<extra></extra>"))
    _base(fig)
    fig.update_yaxes(title_text=f"Mean Sharpe per {period}", zeroline=True, zerolinecolor="rgba(128,128,128,0.5)")
    return fig


def _label(value: float) -> str:
    return f"{value:g}"


def heatmap_figure(cells: list[dict], axes: dict | None) -> go.Figure:
    """Mean Sharpe over a grid of two parameters of one strategy kind; missing cells stay empty."""
    if not axes:
        return empty_figure("No completed backtests in this range")
    if not cells:
        return empty_figure(f"No {axes['strategy_kind']} runs in this range")
    xs = sorted({c["x"] for c in cells})
    ys = sorted({c["y"] for c in cells})
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    counts: list[list[int | None]] = [[None] * len(xs) for _ in ys]
    for c in cells:
        z[yi[c["y"]]][xi[c["x"]]] = c["avg_sharpe"]
        counts[yi[c["y"]]][xi[c["x"]]] = c["count"]
    x_name, y_name = axes["x_param"], axes["y_param"]
    fig = go.Figure(go.Heatmap(
        x=[_label(v) for v in xs], y=[_label(v) for v in ys], z=z, customdata=counts,
        colorscale="RdYlGn", zmid=0, hoverongaps=False, xgap=2, ygap=2,
        colorbar={"title": {"text": "Sharpe", "side": "right"}, "thickness": 12},
        texttemplate="%{z:.2f}", textfont={"size": 11},
        hovertemplate=(f"{x_name} = %{{x}}, {y_name} = %{{y}}<br>mean Sharpe %{{z:.2f}} · "
                       "%{customdata} runs<extra></extra>")))
    _base(fig)
    fig.update_layout(hovermode="closest", margin={"l": 10, "r": 10, "t": MODEBAR_CLEARANCE, "b": 10})
    fig.update_xaxes(type="category", title_text=x_name, showgrid=False)
    fig.update_yaxes(type="category", title_text=y_name, showgrid=False)
    return fig


def candles_figure(chart: dict) -> go.Figure:
    """The run's symbol as candlesticks over its window, long entries as green triangles up, short
    entries as red triangles down, exits as blue crosses, at each trade's price and time."""
    bars, run = chart["bars"], chart["run"]
    if not bars["time"]:
        return empty_figure(f"No {run['symbol']} bars stored for this run's window")
    fig = go.Figure(go.Candlestick(
        x=bars["time"], open=bars["open"], high=bars["high"], low=bars["low"], close=bars["close"],
        name=run["symbol"], increasing={"line": {"color": "#26a69a"}}, decreasing={"line": {"color": "#ef5350"}}))
    trades = chart["trades"]
    for side, color, symbol, label in (("long", UP, "triangle-up", "Long entry"),
                                       ("short", DOWN, "triangle-down", "Short entry")):
        chosen = [t for t in trades if str(t["side"]).lower() == side]
        fig.add_trace(go.Scatter(
            x=[t["entry_time"] for t in chosen], y=[t["entry_price"] for t in chosen], mode="markers", name=label,
            marker={"color": color, "symbol": symbol, "size": 11, "line": {"color": "white", "width": 1}},
            customdata=[[t["size"]] for t in chosen],
            hovertemplate=f"{label} %{{customdata[0]:,}} @ %{{y:,.2f}}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[t["exit_time"] for t in trades], y=[t["exit_price"] for t in trades], mode="markers", name="Exit",
        marker={"color": EXIT, "symbol": "x", "size": 10, "line": {"color": "white", "width": 1}},
        customdata=[[t["side"], t["pnl"]] for t in trades],
        hovertemplate="Exit %{customdata[0]} @ %{y:,.2f} · PnL %{customdata[1]:,.2f}<extra></extra>"))
    _base(fig, legend=True)
    for edge in (run["start"], run["end"]):  # the run's window inside the padded chart
        fig.add_vline(x=edge, line={"color": MUTED, "width": 1, "dash": "dot"})
    fig.update_layout(hovermode="closest", xaxis_rangeslider_visible=False,
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0})
    fig.update_yaxes(tickformat=",.2f")
    return fig


def run_equity_figure(chart: dict) -> go.Figure:
    """The run's equity curve over its drawdown (percent below the running peak, drawn downwards)."""
    equity, drawdown = chart["equity"], chart["drawdown"]
    if not equity["time"]:
        return empty_figure("No equity curve stored for this run")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.05)
    fig.add_trace(go.Scatter(x=equity["time"], y=equity["equity"], name="Equity", mode="lines",
                             line={"color": ACCENT, "width": 2}, hovertemplate="equity %{y:,.0f}<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=drawdown["time"], y=[None if v is None else -v for v in drawdown["drawdown_pct"]],
                             name="Drawdown", mode="lines", fill="tozeroy", line={"color": DOWN, "width": 1},
                             hovertemplate="drawdown %{y:.2f} %<extra></extra>"), row=2, col=1)
    _base(fig)
    fig.update_yaxes(tickformat=",.0f", title_text="Equity", row=1, col=1)
    fig.update_yaxes(ticksuffix=" %", title_text="Drawdown", row=2, col=1)
    return fig
