"""Colour is never the only signal: entries and exits differ in shape on the run drill-down (the
playback's canvas chart is checked in the browser: tests/dashboards/test_playback_page.py), and gains
and losses carry a sign in the text the pages show."""

from __future__ import annotations

from callbacks.common import money, pct


def symbols(traces) -> dict[str, str]:
    return {t["name"]: t["marker"]["symbol"] for t in traces if t.get("mode") == "markers"}


def test_the_run_drill_down_draws_entries_and_exits_in_different_shapes():
    from callbacks.strategy_figures import candles_figure

    chart = {"bars": {"time": ["2026-12-01", "2026-12-02"], "open": [1, 2], "high": [2, 3], "low": [1, 2],
                      "close": [2, 3]},
             "run": {"symbol": "SPY", "start": "2026-12-01", "end": "2026-12-02"},
             "trades": [{"side": "long", "entry_time": "2026-12-01", "entry_price": 1.5, "exit_time": "2026-12-02",
                         "exit_price": 2.5, "size": 10, "pnl": 10.0}]}
    drill = symbols(candles_figure(chart).to_dict()["data"])
    assert set(drill) == {"Long entry", "Short entry", "Exit"} and len(set(drill.values())) == 3


def test_gains_and_losses_carry_a_sign():
    assert money(1234.5, signed=True) == "+$1.23k" and money(-1234.5, signed=True) == "-$1.23k"
    assert money(0, signed=True) == "$0.00" and money(1234.5) == "$1.23k"
    assert pct(2.345, 2, signed=True) == "+2.35 %" and pct(-2.345, 2, signed=True) == "-2.35 %"
