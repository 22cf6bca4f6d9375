"""The load test's verdicts and report (bench/load.py): medians of repeated runs, each row judged
against its target, the console table and the markdown report (bench/LOAD.md)."""

from __future__ import annotations

import platform
import shlex
from pathlib import Path

from bench.load_runs import Result
from bench.load_servers import gunicorn_argv

NOTES_MARKER = "<!-- notes: kept when bench/load.py rewrites this file -->"
LITE_SHARE, LITE_P99_FACTOR, FULL_SHARE, EXPIRY_P99_FACTOR, EVICTION_P99_FACTOR = 0.60, 1.5, 0.30, 2.0, 2.0


def median_run(group: list[Result]) -> Result:
    """The run of median throughput among repeats of one measurement, carrying every run's req/s
    and the errors of all of them (zero errors must hold for every run)."""
    ordered = sorted(group, key=lambda r: r.rps)
    median = ordered[(len(ordered) - 1) // 2]
    median.extra["runs_rps"] = [r.rps for r in ordered]
    return with_errors_of(median, group)


def with_errors_of(row: Result, runs: list[Result]) -> Result:
    """``row`` carrying the errors of all ``runs`` (zero errors must hold for every run)."""
    row.errors = sum(r.errors for r in runs)
    row.error_detail = "; ".join(r.error_detail for r in runs if r.error_detail)
    return row


def median_pair(pairs: list[tuple[Result, Result]]) -> Result:
    """Of (warm run, expiry run) pairs measured back to back, the expiry run of the median p99 ratio,
    carrying every pair's ratio, its own warm p99, every expiry run's req/s and the errors of all runs."""
    ratios = sorted(((e.p99 / w.p99 if w.p99 else float("inf"), w, e) for w, e in pairs), key=lambda t: t[0])
    ratio, warm, median = ratios[len(ratios) // 2]  # of an even number, the worse middle one
    median.extra.update(pair_ratio=ratio, pair_ratios=[r for r, _w, _e in ratios], paired_warm_p99=warm.p99,
                        runs_rps=sorted(e.rps for _w, e in pairs))
    return with_errors_of(median, [run for pair in pairs for run in pair])


def judge(results: list[Result]) -> None:
    floor = {r.connections: r for r in results if r.phase == "floor"}
    warm = {(r.endpoint, r.connections): r for r in results if r.phase == "warm"}
    for r in results:
        checks: list[tuple[str, bool]] = []
        if r.phase != "nocache":
            checks.append(("0 errors", r.errors == 0))
        f = floor.get(r.connections)
        if r.phase == "warm" and f is not None and f.rps:
            share = r.rps / f.rps
            r.extra["floor_share"] = share
            if r.endpoint == "lite":
                r.extra["p99_vs_floor"] = r.p99 / f.p99 if f.p99 else 0.0
                checks.append((f">= {LITE_SHARE:.0%} floor ({share:.0%})", share >= LITE_SHARE))
                checks.append((f"p99 <= {LITE_P99_FACTOR:g}x floor ({r.extra['p99_vs_floor']:.2f}x)",
                               r.p99 <= LITE_P99_FACTOR * f.p99))
            else:
                checks.append((f">= {FULL_SHARE:.0%} floor ({share:.0%})", share >= FULL_SHARE))
        w = warm.get((r.endpoint, r.connections))
        if r.phase == "expiry" and "pair_ratios" in r.extra:
            ratio, ratios = r.extra["pair_ratio"], r.extra["pair_ratios"]
            checks.append((f"p99 <= {EXPIRY_P99_FACTOR:g}x the paired warm run's (median {ratio:.2f}x of "
                           f"{' / '.join(f'{x:.2f}' for x in ratios)}; {r.p99:.1f} vs {r.extra['paired_warm_p99']:.1f} ms)",
                           ratio <= EXPIRY_P99_FACTOR))
        if r.phase == "eviction" and w is not None and "cold_ms" in r.extra:
            # a deleted key leaves nothing to serve: the requests of its round wait for one rebuild. Single-flight
            # keeps that to one (p99 near warm p99 + one cold build); a stampede's N concurrent rebuilds would
            # each take about N / cores times as long
            bound = EVICTION_P99_FACTOR * (w.p99 + r.extra["cold_ms"])
            checks.append((f"p99 <= {EVICTION_P99_FACTOR:g}x (warm p99 + one cold build) ({r.p99:.0f} vs "
                           f"{bound:.0f} ms; cold build {r.extra['cold_ms']:.0f} ms; {r.p99 / w.p99:.1f}x warm)",
                           r.p99 <= bound))
        if r.phase == "nocache":
            w = warm.get((r.endpoint, r.connections))
            if w is not None and r.rps:
                r.extra["cache_speedup"] = w.rps / r.rps
                checks.append((f"cache = {w.rps / r.rps:.1f}x req/s, p99 {r.p99 / w.p99:.1f}x", True)
                              if w.p99 else (f"cache = {w.rps / r.rps:.1f}x req/s", True))
            r.target = "; ".join(c for c, _ in checks) + " (comparison, no target)"
            r.verdict = "-"
            continue
        r.target = "; ".join(c for c, _ in checks)
        r.verdict = "ok" if all(ok for _, ok in checks) else "MISSED: " + ", ".join(c.split(" (")[0] for c, ok in checks if not ok)


def table(results: list[Result]) -> list[str]:
    head = ["run", "endpoint", "conns", "req/s", "runs' req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "bytes",
            "target", "verdict"]
    rows = [head, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---"]]
    for r in results:
        errors = str(r.errors) + (f" ({r.error_detail})" if r.error_detail else "")
        spread = " / ".join(f"{rps:,.0f}" for rps in r.extra.get("runs_rps", [])) or "-"
        rows.append([r.phase, r.endpoint, str(r.connections), f"{r.rps:,.0f}", spread, f"{r.p50:.1f}", f"{r.p95:.1f}",
                     f"{r.p99:.1f}", f"{r.max:.0f}", errors, f"{r.bytes_per_response:,.0f}", r.target, r.verdict])
    return ["| " + " | ".join(row) + " |" for row in rows]


def print_table(results: list[Result]) -> None:
    cols = ["run", "endpoint", "c", "req/s", "p50", "p95", "p99", "max", "err", "verdict"]
    lines = [cols]
    for r in results:
        lines.append([r.phase, r.endpoint, str(r.connections), f"{r.rps:,.0f}", f"{r.p50:.1f}", f"{r.p95:.1f}",
                      f"{r.p99:.1f}", f"{r.max:.0f}", str(r.errors), r.verdict])
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols) - 1)]
    print()
    for line in lines:
        print("  ".join(cell.rjust(w) if 2 <= i <= 8 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
              + "  " + line[-1])
    print("\n(latencies in ms; verdict details in the markdown report)")
    for r in results:
        if r.target:
            print(f"  {r.phase:<8} {r.endpoint:<14} c={r.connections:<4} {r.target}  -> {r.verdict}")


def write_markdown(path: Path, results: list[Result], meta: dict) -> None:
    lines = [
        "# Load test (`bench/load.py`)",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['cores']} cores ({meta['cpu']}), {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- tool: {meta['wrk']} (`wrk -t2 -cN -d{meta['duration']:g}s --latency --timeout 10s`, p95/p99/max from "
        "`bench/load_report.lua`'s `done()`), on loopback, on the same machine as the server",
        f"- scale: `{meta['scale']}` (SQLite `var/bench/{meta['scale']}.db`), private redis-server",
        "- gunicorn (as `tradeboard run`, `app.cli.gunicorn_argv`): `"
        + shlex.join(gunicorn_argv("wsgi:server", Path("ROOT"), 0, Path("FILE"))[3:]).replace("127.0.0.1:0", "127.0.0.1:PORT")
        + "`; DATABASE_URL, REDIS_URL, SECRET_KEY "
        "set; an analyst's bearer token on every request; "
        + ("the cache queue's worker beside it (CACHE_REFRESH_ON_WORKERS: stale refreshes), " if meta.get("cache_worker")
           else "stale sections refreshed in the web (no cache worker), ")
        + "no default-queue worker, no beat",
        f"- runs: `warm` after one request per endpoint, and `floor` = `bench/floor_app.py` (bare Flask, the warm lite "
        f"body from one Redis GET, same gunicorn settings, running beside the app): for each connection count, "
        f"{meta['repeats']} times the floor and then every endpoint; each row is the run of median req/s (all runs' req/s "
        "beside it, latencies from that run, errors of all runs), and a share of the floor compares medians; `expiry` = each endpoint while a thread makes its cached "
        "sections go past their TTL every second (lite: `tb:s:overview:*`; a dashboard: every `tb:s:*` key), so they are "
        f"served stale while one process refreshes each, measured as {meta['repeats']} pairs of a warm run and the "
        "expiry run right after it and judged by the median pair's p99 ratio (the row is that pair's expiry run, with "
        "every expiry run's req/s); `eviction` = the same, but the keys are deleted (a true miss, single-flight; one run, "
        "judged against the warm row); `nocache` = the app restarted with `CACHE_TYPE=NullCache`",
        f"- command: `{meta['command']}`",
    ]
    if meta.get("note"):
        lines.append(f"- note: {meta['note']}")
    if meta.get("expiry"):
        lines.append(f"- expiry run: {meta['expiry']}")
    if meta.get("cold"):
        lines.append(f"- cold builds for the eviction check (keys deleted, idle server, median of 3): {meta['cold']}")
    lines += [
        "- caveats: wrk counts a request as an error only when it fails or takes over 10 s; requests still "
        "outstanding when a run ends are neither errors nor latencies, so with hundreds of slow requests in flight "
        "(the `nocache` runs at 500 connections) the latencies describe the completed requests only. `bytes` is per "
        "response, headers included (the app adds ~0.9 KB of security headers the floor does not send).",
        "", *table(results), "",
    ]
    notes = ""  # hand-written findings below the marker survive a re-run
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1]
    path.write_text("\n".join(lines) + "\n" + NOTES_MARKER + (notes or "\n"))
