"""How an import's state reads on the page: the check's verdict and every bad row, the commit's
progress (rows written, rows per second) and its summary with links to where the rows appear."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.import_ids import ENTITY_LABELS

DASHBOARDS = {  # where each entity's rows appear
    "accounts": ("Client dashboard", "/client"), "account-snapshots": ("Client dashboard", "/client"),
    "strategies": ("Client dashboard", "/client"), "signals": ("Signal sender", "/signal-sender"),
    "executions": ("Signal sender", "/signal-sender"), "paper-accounts": ("Paper trading", "/paper-trading"),
    "paper-trades": ("Paper trading", "/paper-trading"), "paper-signals": ("Paper trading", "/paper-trading"),
    "bars": ("Strategies (backtests)", "/strategies"),
}
PROBLEM_COLUMNS = [{"field": "line", "headerName": "Line", "maxWidth": 90, "type": "rightAligned"},
                   {"field": "entity", "headerName": "Entity", "maxWidth": 130},
                   {"field": "field", "headerName": "Field", "maxWidth": 170},
                   {"field": "message", "headerName": "What is wrong", "flex": 2, "tooltipField": "message"},
                   {"field": "valid", "headerName": "Valid", "flex": 1, "tooltipField": "valid"}]


HIDDEN = "d-none"


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return plural(n, "byte")


def alert(message, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(message, color=color, className="py-2 mb-0")


def _counts(counts: dict | None) -> str:
    return "; ".join(f"{ENTITY_LABELS[e]}: {c['inserted']:,} new, {c['updated']:,} updated, {c['unchanged']:,} unchanged"
                     for e, c in (counts or {}).items())


def _progress(report: dict | None, now: float) -> tuple[int, str, str]:
    """(percent, bar label, the line under it) of a running job."""
    if not report or report.get("phase") != "writing":
        return 100, "Checking every row\u2026", "Every row is being checked; nothing is written."
    written, total = report["written"], max(report["total"], 1)
    seconds = max((report.get("at") or now) - report["started"], 1e-3)
    rate = written / seconds
    pct = min(100, round(100 * written / total))
    return pct, f"{pct} %", f"{written:,} of {report['total']:,} rows written \u00b7 {rate:,.0f} rows/s"


def _summary(record: dict) -> html.Div:
    links = {DASHBOARDS[e] for e in (record["counts"] or {})}
    return html.Div([
        html.P([html.Strong(f"Committed {record['rows']:,} rows"),
                f" in {record['seconds']:,.1f} s." if record["seconds"] is not None else "."], className="mb-1"),
        html.Ul([html.Li(f"{ENTITY_LABELS[e]}: {c['inserted']:,} inserted, {c['updated']:,} updated, "
                         f"{c['unchanged']:,} unchanged") for e, c in record["counts"].items()], className="mb-1"),
        html.Div(["See them on: ", *[dcc.Link(name, href=href, className="me-3") for name, href in sorted(links)]]),
        alert(record["message"], "info") if record["message"] else None,
    ])


def render(record: dict, report: dict | None, problems: list[dict], problem_total: int, now: float) -> tuple:
    """The outputs of callbacks.imports' ``follow``, in its order."""
    status = record["status"]
    no_problems = ([], [], True, "", True)
    if status == "checking" or status == "committing":
        pct, label, line = _progress(report if status == "committing" else None, now)
        verb = "Checking" if status == "checking" else "Committing"
        return (alert(f"{verb} {record['filename']}\u2026", "info"), *no_problems, True, pct, label, "", line,
                None, False)
    if status == "invalid":
        shown = "" if len(problems) == problem_total else f" (the first {len(problems):,} here; the CSV has all)"
        verdict = alert(f"{record['message']} {plural(problem_total, 'problem')} listed below{shown}.", "danger")
        columns = PROBLEM_COLUMNS if record["preset"] else [c for c in PROBLEM_COLUMNS if c["field"] != "entity"]
        return (verdict, columns, problems, not problems, f"/import/{record['id']}/problems.csv", not problems, True,
                0, "", HIDDEN, None, None, True)
    if status == "valid":
        verdict = alert(f"All {record['rows']:,} rows check out. Committing will write: {_counts(record['counts'])}.",
                         "success")
        return (verdict, *no_problems, False, 0, "", HIDDEN, None, None, True)
    if status == "committed":
        return (None, *no_problems, True, 100, "100 %", "", None, _summary(record), True)
    if status == "failed":
        return (alert(record["message"] or "The job failed.", "danger"), *no_problems, True, 0, "", HIDDEN, None,
                None, True)
    if status in ("undoing", "undone"):
        return (alert(f"This import is {status}: see Past imports.", "secondary"), *no_problems, True, 0, "", HIDDEN,
                None, None, True)
    return (None, *no_problems, True, 0, "", HIDDEN, None, None, True)
