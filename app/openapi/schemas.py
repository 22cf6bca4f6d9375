"""The API's JSON shapes as JSON Schema 2020-12 (OpenAPI 3.1 `components.schemas`).

Objects are closed (``additionalProperties: false``) wherever the shape is fixed; maps keyed by data
(section names, statuses, strategy parameters, per-strategy timings) say what their values are.
Nullable fields are ``["<type>", "null"]``: metrics that are undefined on too little data (a
Sharpe ratio of one trade, a win rate of none) are null, never NaN. A dashboard section that
failed is null and named in ``errors``; the document's other sections still come.
"""

from __future__ import annotations

from typing import Any

from app.openapi.json_schema import B, I, N, NI, NN, NS, S, arr, date, date_time, enum, null, obj, ref
from app.openapi.requests import request_schemas

TIME_RANGE = enum("7d", "30d", "90d", "1y", "all")
STRATEGY_TIME_RANGE = enum("7d", "30d", "90d", "all")

# --------------------------------------------------------------------------- shared

ERROR = obj({"error": obj({
    "code": {"type": "string", "description": "machine-readable, e.g. invalid_parameter, not_found, forbidden"},
    "message": {"type": "string", "description": "for people"},
    "details": {"type": "object", "description": "what was wrong: the parameter, the valid values, limits"},
})}, description="Every error: 400, 401, 403, 404, 405, 413, 429, 500 (and 503 from health).")

FRESHNESS = obj({
    "computed_at": NS, "cached": B, "stale": B,
    "fresh_for_seconds": NN, "ttl_seconds": NI,
}, description="One section's freshness: when it was computed, whether it came from the cache, whether it "
               "is past its TTL (served while one process recomputes it); TTL null for real-time sections.")

METADATA = obj({
    "response_time_ms": N,
    "cache_hits": arr(S, description="names of the sections read from the cache"),
    "cache_misses": arr(S, description="names of the sections computed for this request"),
    "computed_at": NS,
    "cached": B,
    "degraded": {"type": "boolean", "description": "Redis unreachable: computed from the database"},
    "timestamp": date_time(),
    "partial_sections": arr(S, description="only when some section has a value despite an error (e.g. some "
                                           "symbols unpriced): those sections, whose errors are in `errors`"),
}, optional=("partial_sections",))

SECTIONS = {"type": "object", "additionalProperties": ref("Freshness"),
            "description": "freshness per panel, keyed by section name"}
SECTION_ERRORS = {"type": "object", "additionalProperties": S,
                  "description": "only when a section failed: section name -> error text (that section is null)"}
STRATEGY_PARAMETERS = {"type": "object", "additionalProperties": {"type": ["number", "integer", "boolean", "string"]},
                       "description": "a strategy kind's parameters by name"}

PRICE_FIELDS = {
    # all null when no provider has a price for the symbol (the section then names it in `errors`)
    "current_price": NN, "unrealized_pnl": NN, "price_source": NS, "price_stale": null(B), "price_age_seconds": NN,
}
POSITION = obj({"symbol": S, "quantity": N, "entry_price": NN, **PRICE_FIELDS},
               description="An open position marked to the latest price (price provider, staleness and age).")
STRATEGY_POSITION = obj({"strategy_name": S, "symbol": S, "quantity": N, "entry_price": NN, **PRICE_FIELDS})

SIGNAL_ROW = obj({
    "signal_id": S, "sent_at": date_time(), "symbol": S, "side": S, "quantity_requested": N, "quantity_filled": N,
    "fill_price": NN, "status": S, "reject_reason": NS, "pnl": NN,
})

# --------------------------------------------------------------------------- client dashboard

CLIENT_DASHBOARD = obj({
    "fund_name": S, "as_of_date": date_time(), "time_range": TIME_RANGE,
    "overview": null(obj({
        "total_aum": N, "total_equity": N, "total_pnl": N, "total_pnl_pct": NN, "margin_utilization": NN,
        "margin_used": N, "cash": N, "unrealized_pnl": N, "number_of_strategies": I, "open_positions": I,
    })),
    "accounts": null(arr(obj({
        "account_name": S, "broker": NS, "net_contributions": N, "equity": N, "cash": N, "margin_used": N,
        "margin_available": N, "margin_utilization": NN, "unrealized_pnl": N, "pnl": N, "snapshot_date": NS,
    }))),
    "strategy_performance": null(arr(obj({
        "strategy_name": S, "status": S, "allocation": N, "capital": N, "realized_pnl": N, "win_rate": NN,
        "number_of_trades": I, "sharpe_ratio": NN, "unrealized_pnl": N, "pnl": N, "pnl_pct": NN,
    }))),
    "positions": null(arr(ref("StrategyPosition"))),
    "risk_metrics": null(obj({k: NN for k in (
        "max_drawdown", "var_95", "var_95_parametric", "cvar_95", "var_95_pct", "cvar_95_pct", "portfolio_beta",
        "volatility", "sharpe_ratio", "sortino_ratio")})),
    "equity_curve": null(arr(obj({"date": date(), "equity": N, "drawdown_pct": NN}))),
    "daily_returns": null(arr(obj({"date": date(), "return_pct": NN}))),
    "recent_signals": null(arr(obj({
        "signal_id": S, "strategy_name": S, "symbol": S, "side": S, "quantity": N, "status": S,
        "received_at": date_time(), "filled_at": NS, "reject_reason": NS,
    }))),
    "sections": SECTIONS, "errors": ref("SectionErrors"), "metadata": ref("Metadata"),
}, optional=("errors",))

# --------------------------------------------------------------------------- signal sender

SIGNAL_SENDER_DASHBOARD = obj({
    "strategy_name": S, "developer_name": NS, "as_of_date": date_time(), "time_range": TIME_RANGE,
    "performance": null(obj({
        "total_signals_sent": I, "signals_filled": I, "signals_rejected": I, "signals_cancelled": I,
        "signals_pending": I, "fill_rate": NN, "realized_pnl": N, "unrealized_pnl": N, "total_pnl": N,
        "number_of_trades": I, "win_rate": NN, "avg_win": NN, "avg_loss": NN, "profit_factor": NN,
        "expectancy": NN, "sharpe_ratio": NN,
    })),
    "signal_history": null(arr(ref("SignalRow"))),
    "lag_metrics": null(obj(
        {"avg_signal_to_fill_seconds": {**NN, "description": "the mean lag of the range's filled signals: exact"},
         **{f"{k}_signal_to_fill_seconds": {**NN, "description": f"{label} lag, within 1 % of the exact value: read "
                                            "from per-day log-bucket sketches (numpy's linear interpolation "
                                            "between the two nearest ranks, each rank within 1 %)"}
            for k, label in (("median", "the median"), ("p95", "the 95th percentile"),
                             ("p99", "the 99th percentile"), ("max", "the largest"))}},
        description="Signal-to-fill lag in seconds over the range's filled signals (null: none filled).")),
    "current_positions": null(arr(ref("Position"))),
    "rejection_reasons": null(arr(obj({"reason": S, "count": I}))),
    "cumulative_pnl": null(arr(obj({"date": date(), "pnl": N}))),
    "latency_histogram": null(obj({"bin_edges": arr(N), "counts": arr(I), "overflow": I, "overflow_from": NN},
                                  description="Filled signals in equal bins from 0 to the p99 lag, each counted "
                                              "at its sketch bucket's value (within 1 % of its lag); `overflow`: "
                                              "the slower ones beyond `overflow_from`.")),
    "sections": SECTIONS, "errors": ref("SectionErrors"), "metadata": ref("Metadata"),
}, optional=("errors",))

SIGNAL_PAGE = obj({"rows": arr(ref("SignalRow"), maxItems=500), "row_count": {"type": "integer", "minimum": 0}})

# --------------------------------------------------------------------------- paper trading

PAPER_POSITION = obj({
    "trade_id": I, "account": S, "source": S, "symbol": S, "side": S, "quantity": N, "entry_price": NN,
    "opened_at": date_time(), **PRICE_FIELDS, "pnl_pct": NN,
})
COUNTS_BY_STATUS = {"type": "object", "additionalProperties": I}

PAPER_SECTIONS: dict[str, Any] = {
    "overview": null(obj({
        "total_accounts": I, "active_accounts": I, "starting_capital": N, "realized_pnl": N, "unrealized_pnl": N,
        "total_pnl": N, "equity": N, "return_pct": NN, "win_rate": NN, "daily_pnl": N, "daily_realized_pnl": N,
        "active_trades": I, "closed_trades": I,
    })),
    "open_positions": null(arr(ref("PaperPosition"))),
    "open_positions_total": null(obj({"count": I, "unrealized_pnl": N})),
    "shadow_positions": null(arr(obj({
        "signal_id": I, "source": S, "symbol": S, "side": S, "quantity": N, "entry_price": NN,
        "signal_at": date_time(), "status": S, "reason": NS, **PRICE_FIELDS, "pnl_pct": NN,
    }))),
    "shadow_summary": null(obj({"count": I, "window_days": I, "by_status": COUNTS_BY_STATUS, "unrealized_pnl": N})),
    "exit_signals": null(arr(obj({
        "id": I, "position_id": I, "signal_type": S, "status": S, "source": S, "symbol": S, "side": S,
        "quantity": N, "signal_price": NN, "timestamp": date_time(), "age_seconds": NN, "entry_price": NN,
        "opened_at": NS, **PRICE_FIELDS,
    }))),
    "queued_signals": null(arr(obj({
        "id": I, "account": S, "source": S, "symbol": S, "side": S, "quantity": N, "price": NN,
        "timestamp": date_time(), "age_seconds": NN,
    }))),
    "queued_total": NI,
    "recent_trades": null(arr(obj({
        "trade_id": I, "account": S, "source": S, "symbol": S, "side": S, "quantity": N, "entry_price": NN,
        "exit_price": NN, "opened_at": date_time(), "closed_at": NS, "holding_hours": NN, "realized_pnl": N,
        "return_pct": NN,
    }))),
    "performance_metrics": null(obj({
        "total_trades": I, "winning_trades": I, "losing_trades": I, "gross_profit": N, "gross_loss": N,
        "largest_win": NN, "largest_loss": NN, "avg_holding_hours_last_1000": NN, "first_trade_at": NS,
        "last_close_at": NS, "realized_pnl": N, "win_rate": NN, "avg_win": NN, "avg_loss": NN, "profit_factor": NN,
        "expectancy": NN, "sharpe_ratio": NN, "sortino_ratio": NN, "max_drawdown_pct": NN, "volatility_pct": NN,
    })),
    "top_performers": null(arr(obj({
        "rank": I, "symbol": S, "realized_pnl": N, "trades": I, "win_rate": NN, "sources": I,
    }))),
    "trading_stats": null(obj({
        "signals_today": I, "signals_today_by_status": COUNTS_BY_STATUS, "trades_opened_today": I,
        "trades_closed_today": I, "open_long": I, "open_short": I, "open_symbols": I, "open_exposure_at_entry": NN,
    })),
    "source_performance": null(arr(obj({
        "source": S, "signals": I, "executed": I, "missed": I, "queued": I, "trades": I, "wins": I, "pnl": N,
        "open_trades": I, "fill_rate": NN, "win_rate": NN, "avg_pnl_per_trade": NN,
    }))),
    "pnl_curve": null(obj({"data_points": arr(obj({"date": date(), "pnl": N})), "total_pnl": N})),
    "daily_returns": null(obj({
        "returns": arr(obj({"date": date(), "return_pct": NN, "pnl": N})), "avg_return": NN,
        "positive_days": I, "negative_days": I,
    })),
    "gex": null(arr(obj({
        "symbol": S, "gamma_exposure": NN, "call_wall": NN, "put_wall": NN, "as_of": NS, "source": NS,
        "stale": B, "age_seconds": NN, "observed_at": NS,
    }, optional=("observed_at",)))),
    "health": null(obj({
        "status": S, "problems": arr(S),
        "database": obj({
            "database_ms": NN, "last_signal_at": NS, "last_signal_age_seconds": NN, "last_execution_at": NS,
            "queued": I, "oldest_queued_age_seconds": NN,
        }),
        "cache": obj({"enabled": B, "degraded": B, "degraded_for_seconds": NN, "last_error": NS}),
        "stale_price_symbols": arr(S), "stale_gex_symbols": arr(S), "checked_at": date_time(),
    })),
}
PAPER_TRADING_DASHBOARD = obj({
    "as_of_date": date_time(), "limit": {"type": "integer", "minimum": 1, "maximum": 500}, **PAPER_SECTIONS,
    "sections": SECTIONS, "errors": ref("SectionErrors"), "metadata": ref("Metadata"),
}, optional=("errors",))

PAPER_TRADING_V2 = obj({
    **PAPER_TRADING_DASHBOARD["properties"],
    "cached": B,
    "cache_info": obj({f"{k}_ttl": I for k in (
        "overview", "positions", "trades", "performance", "top_performers", "trading_stats", "source_performance",
        "gex")}),
}, optional=("errors",), description="The replaced system's optimized dashboard: the paper-trading document "
                                     "plus `cached` and the TTL of each section.")

AGGREGATED_DASHBOARD = obj({
    "positions": PAPER_SECTIONS["open_positions"],
    **{k: PAPER_SECTIONS[k] for k in ("shadow_positions", "health", "exit_signals", "queued_signals",
                                     "source_performance", "gex", "pnl_curve", "daily_returns")},
    "metadata": ref("Metadata"), "errors": ref("SectionErrors"),
}, optional=("errors",), description="The replaced system's aggregated document: real-time and cached sections.")

PAPER_TRADING_LITE = obj({
    "total_pnl": N, "win_rate": NN, "active_trades": I, "daily_pnl": N, "timestamp": date_time(), "cached": B,
})

# --------------------------------------------------------------------------- strategy performance

AGGREGATE = {"count": I, "avg_return_pct": NN, "avg_sharpe": NN, "avg_max_drawdown_pct": NN, "avg_win_rate_pct": NN,
             "total_trades": I}
STRATEGY_PERFORMANCE_DASHBOARD = obj({
    "time_range": STRATEGY_TIME_RANGE,
    "byVolatility": null(arr(obj({"regime": S, **AGGREGATE}))),
    "bySymbol": null(arr(obj({"symbol": S, **AGGREGATE}))),
    "configurations": null(arr(obj({
        "strategy_kind": S, "configuration": S, "parameters": ref("StrategyParameters"), **AGGREGATE,
        "best_sharpe": NN, "symbols": I, "latest_run_id": I,
    }))),
    "sharpeOverTime": null(arr(obj({"date": date(), "period": S, "avg_sharpe": NN, "count": I}))),
    "heatmap": null(arr(obj({
        "strategy_kind": S, "x_param": S, "x": N, "y_param": S, "y": N, "avg_sharpe": NN, "count": I,
    }))),
    "heatmap_axes": null(obj({
        "strategy_kind": NS, "x_param": NS, "y_param": NS, "strategy_kinds": arr(S),
        "parameters": arr(S, description="numeric parameters of the heatmap's strategy kind"),
    })),
    "mlOptimization": {"type": ["object", "null"], "description": "reserved: always null"},
    "last_updated": NS, "backtest_count": I, "as_of_date": date_time(),
    "sections": SECTIONS, "errors": ref("SectionErrors"), "metadata": ref("Metadata"),
}, optional=("errors",))

# --------------------------------------------------------------------------- refresh and cache

TIMINGS = {"type": "object", "additionalProperties": N, "description": "milliseconds per time range or document"}
REFRESH_REPORT = obj({
    "refreshed": obj({
        "client": TIMINGS,
        "signal_sender": {"type": "object", "additionalProperties": TIMINGS, "description": "per strategy name"},
        "strategy": TIMINGS,
        "paper_trading": TIMINGS,
    }, optional=("client", "signal_sender", "strategy", "paper_trading")),
    "errors": ref("SectionErrors"), "started_at": date_time(), "finished_at": date_time(), "elapsed_ms": N,
    "status": enum("ok", "partial"),
})
REFRESH_QUEUED = obj({"task_id": S, "queued": S})
CACHE_CLEARED = {"oneOf": [obj({"pattern": S, "deleted": {"type": "integer", "minimum": 0}}),
                           obj({"invalidated_family": S})]}

# --------------------------------------------------------------------------- backtests and tasks

BACKTEST_STARTED = obj({
    "task_id": S, "sweep_id": I, "runs": I, "configurations": I, "symbols": arr(S),
    "skipped": arr({"type": "object", "additionalProperties": True},
                   description="parameter sets left out as invalid, with the reason"),
    "status_url": S,
})
TASK_PROGRESS = obj({
    "task_id": S, "kind": enum("backtest_sweep"), "sweep_id": I, "state": enum("PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED"),
    "cancelled_at": NS,
    "progress": obj({"total": I, "completed": I, "failed": I, "percent": N}),
    "strategy": S, "created_at": date_time(), "completed_at": NS,
    "runs": arr(obj({"run_id": I, "configuration": S, "symbol": S, "status": S, "sharpe_ratio": NN})),
    "errors": arr({"type": "object", "additionalProperties": True}, description="failed members with their error"),
    "recommendation": null(obj({
        "configuration": S, "parameters": ref("StrategyParameters"), "symbols": arr(S), "in_sample_sharpe": NN,
        "out_of_sample_sharpe": NN, "sharpe_decay": NN, "out_of_sample_rank": NI,
        "best_out_of_sample_configuration": NS, "best_out_of_sample_sharpe": NN, "candidates": I,
        "in_sample_share": N, "in_sample_window": arr(S, minItems=2, maxItems=2),
        "out_of_sample_window": arr(S, minItems=2, maxItems=2),
    })),
}, optional=("recommendation",))

RUN_METRICS = {k: NN for k in ("total_return_pct", "cagr_pct", "max_drawdown_pct", "calmar_ratio", "volatility_pct",
                                "sharpe_ratio", "sortino_ratio", "var_95", "var_95_parametric", "cvar_95",
                                "win_rate_pct", "avg_win", "avg_loss", "profit_factor", "expectancy", "exposure_pct")}
# a sweep member's in-sample / out-of-sample split (analytics.optimization.in_and_out_of_sample); others lack them
SWEEP_MEMBER_METRICS = {"in_sample_sharpe": NN, "out_of_sample_sharpe": NN, "split": N,
                        "in_sample_window": arr(S), "out_of_sample_window": arr(S)}
BACKTEST_RUN = obj({
    "id": I, "strategy": S, "config_key": S, "symbol": S, "timeframe": S, "parameters": ref("StrategyParameters"),
    "start": NS, "end": NS, "cash": N, "status": enum("PENDING", "RUNNING", "COMPLETED", "FAILED"),
    "error": NS, "sweep_id": NI, "created_at": NS, "completed_at": NS, "underlying_volatility_pct": NN,
    "volatility_regime": NS,
    "metrics": null(obj({**RUN_METRICS, "number_of_trades": I, "winning_trades": I, "losing_trades": I,
                         "total_pnl": N, "initial_cash": N, "final_equity": N, "total_commission": N, "bars": I,
                         **SWEEP_MEMBER_METRICS}, optional=tuple(SWEEP_MEMBER_METRICS))),
    "trades": arr(obj({
        "entry_time": date_time(), "entry_price": N, "exit_time": date_time(), "exit_price": N, "side": enum(
            "long", "short"), "size": N, "pnl": N, "commission": N, "closed_at_end": B,
    })),
    "equity_curve": null(obj({"times": arr(date_time()), "equity": arr(N)})),  # null: a run that failed
})

BACKTEST_RUN_SUMMARY = obj({
    **{k: BACKTEST_RUN["properties"][k] for k in (
        "id", "strategy", "config_key", "symbol", "timeframe", "parameters", "start", "end", "cash", "status", "error",
        "sweep_id", "created_at", "completed_at", "volatility_regime")},
    "total_return_pct": NN, "sharpe_ratio": NN, "max_drawdown_pct": NN, "win_rate_pct": NN, "number_of_trades": NI,
}, description="A stored run without its trades and equity curve; headline metrics are null until it completes.")
BACKTEST_RUN_LIST = obj({
    "runs": arr(ref("BacktestRunSummary"), description="newest first: by created_at, then id"),
    "limit": {"type": "integer", "minimum": 1},
    "next_cursor": {"type": ["string", "null"], "description": "the cursor of the next page; null on the last"},
})

# --------------------------------------------------------------------------- playback

PLAYBACK_RUN = obj({
    "id": I, "kind": S, "params": ref("StrategyParameters"), "config": S, "symbol": S, "timeframe": S,
    "start": NS, "end": NS, "cash": N, "status": S, "total": I, "trades": NI, "total_return_pct": NN,
    "final_equity": NN,
})
PLAYBACK_CHUNK = obj({
    "run_id": I, "start": I, "count": I, "total": I,
    "t": arr(S, description="bar times"), "o": arr(N), "h": arr(N), "l": arr(N), "c": arr(N), "v": arr(N),
    "eq": arr(NN, description="equity after each bar (null: a run without a stored curve, e.g. one that failed)"),
    "ev": arr({"type": "array", "prefixItems": [I, enum("EL", "ES", "XL", "XS"), N, I, NN],
               "minItems": 5, "maxItems": 5},
              description="fills: [bar index, EL|ES|XL|XS (entry/exit long/short), price, size, pnl (exits)]"),
})
LIVE_STARTED = obj({
    "id": S, "poll_url": S,
    "spec": obj({"symbol": S, "timeframe": S, "kind": S, "params": ref("StrategyParameters"), "cash": N,
                 "start": S, "end": S, "bars_per_second": N}, optional=("start", "end")),
})
LIVE_POLL = obj({
    "id": S, "status": S, "total": I, "error": NS, "last_id": S, "count": I, "finished": B,
    "events": arr({"type": "object", "description": "one bar of the live run (its bar, equity and fills)"}),
})

# --------------------------------------------------------------------------- health

CHECK = {"ok": B, "latency_ms": NN, "error": S}
HEALTH = obj({
    "status": enum("healthy", "degraded", "unhealthy"), "version": S, "uptime_seconds": N,
    "database": obj({**CHECK, "dialect": S}, optional=("error",)),
    "redis": obj(CHECK, optional=("error",)),
    "workers": obj({"ok": B, "count": I, "last_seen_seconds_ago": NN, "hosts": arr(S), "cache_workers": I,
                    "error": S}, optional=("hosts", "cache_workers", "error")),
    "beat": obj({"ok": B, "last_seen": NN, "last_seen_seconds_ago": NN, "error": S}, optional=("error",)),
})

COMPONENTS = {
    "Error": ERROR, "Freshness": FRESHNESS, "Metadata": METADATA, "SectionErrors": SECTION_ERRORS,
    "StrategyParameters": STRATEGY_PARAMETERS, "Position": POSITION, "StrategyPosition": STRATEGY_POSITION,
    "PaperPosition": PAPER_POSITION, "SignalRow": SIGNAL_ROW,
    "ClientDashboard": CLIENT_DASHBOARD, "SignalSenderDashboard": SIGNAL_SENDER_DASHBOARD, "SignalPage": SIGNAL_PAGE,
    "PaperTradingDashboard": PAPER_TRADING_DASHBOARD, "PaperTradingV2": PAPER_TRADING_V2,
    "AggregatedDashboard": AGGREGATED_DASHBOARD, "PaperTradingLite": PAPER_TRADING_LITE,
    "StrategyPerformanceDashboard": STRATEGY_PERFORMANCE_DASHBOARD,
    "RefreshReport": REFRESH_REPORT, "RefreshQueued": REFRESH_QUEUED, "CacheCleared": CACHE_CLEARED,
    "BacktestStarted": BACKTEST_STARTED, "TaskProgress": TASK_PROGRESS,
    "BacktestRun": BACKTEST_RUN, "BacktestRunSummary": BACKTEST_RUN_SUMMARY,
    "BacktestRunList": BACKTEST_RUN_LIST, "PlaybackRun": PLAYBACK_RUN, "PlaybackChunk": PLAYBACK_CHUNK,
    "LiveStarted": LIVE_STARTED, "LivePoll": LIVE_POLL, "Health": HEALTH,
}
COMPONENTS.update(request_schemas())
