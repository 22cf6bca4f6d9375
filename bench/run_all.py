"""Every benchmark in bench/, one after the other, into bench/RESULTS.md (`make bench`).

    python bench/run_all.py [--postgres-url URL] [--skip NAME ...] [--quick]

Runs: analytics and the engine; the engine against backtesting.py and vectorbt (with the `bench`
extra installed); the client, signal-sender and paper-trading dashboards (cold and
warm, `demo`, `large` and `xlarge` side by side with the growth ratio, SQLite, and PostgreSQL when a
server URL is given: each scale is seeded once into var/bench/<scale>.db and the database
`tb_bench_<scale>`, kept for later runs; seeding `xlarge` takes about 10 minutes the first time);
the strategy aggregation at 1k/10k/100k runs and at `large`/`xlarge` (SQLite and PostgreSQL);
playback (bytes per event, live poll, browser per-tick time); ingest (bulk import, API batches,
visibility: SQLite, and PostgreSQL when a server URL is given); the import page (a 1,000,000-row CSV
uploaded, checked and committed). Each script prints its figures next to its targets; this collects them with the machine's
core count and the date. The load test (bench/load.py) is separate: it takes ~10 minutes and wants
a quiet machine. `--quick`: demo scale only, fewer repeats, strategy aggregation at 1k/10k.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def jobs(pg_url: str | None, quick: bool) -> list[tuple[str, list[str]]]:
    """(name, command) of each benchmark; with ``pg_url`` (a server URL) the dashboards measure each
    scale on SQLite and on that server's tb_bench_<scale> database, side by side."""
    scales = ["demo"] if quick else ["demo", "large", "xlarge"]
    repeat = ["--repeat", "2" if quick else "5"]
    postgres = ["--postgres-url", pg_url] if pg_url and not quick else []
    out = [("analytics", ["bench/analytics.py"]), ("engine_peers", ["bench/engine_peers.py", *repeat])]
    for name in ("client_dashboard", "signal_sender_dashboard", "paper_trading_dashboard"):
        out.append((name, [f"bench/{name}.py", "--scale", *scales, *repeat, *postgres]))
    runs = ["1000", "10000"] if quick else ["1000", "10000", "100000"]
    strategy = ["bench/strategy_dashboard.py", "--runs", *runs, *([] if quick else ["--scale", "large", "xlarge"])]
    if pg_url:
        strategy += ["--postgres-url", pg_url.rsplit("/", 1)[0] + "/postgres"]
    out.append(("strategy_dashboard", strategy))
    out.append(("sweep_scaling (SQLite)", ["bench/sweep_scaling.py", *(["--fast-values", "8"] if quick else [])]))
    out.append(("playback", ["bench/playback.py"]))
    # its own empty databases: SQLite, and tb_bench_ingest on the PostgreSQL server when one is given
    # 1,000,000 rows: PostgreSQL's bulk path (indexes built after the rows) starts at 500,000
    out.append(("ingest", ["bench/ingest.py", "--rows", "100000" if quick else "1000000",
                           *(["--database-url", pg_url] if pg_url else [])]))
    # the import page: a 1,000,000-row CSV (SQLite; PostgreSQL's tb_bench_import when a server is given)
    out.append(("import_page", ["bench/import_page.py", "--rows", "100000" if quick else "1000000",
                                *(["--postgres-url", pg_url] if pg_url else [])]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("TRADEBOARD_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL (default: TRADEBOARD_TEST_POSTGRES_URL)")
    parser.add_argument("--skip", nargs="*", default=[], help="benchmarks to leave out (by name prefix)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    pg_url = args.postgres_url
    started = dt.datetime.now(dt.UTC)
    sections = []
    failures = 0
    for name, command in jobs(pg_url, args.quick):
        if any(name.startswith(s) for s in args.skip):
            continue
        print(f"== {name}: {' '.join(command)}", flush=True)
        clock = time.perf_counter()
        result = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if "rows/s]" not in line and line.strip()]  # no progress bars
        print("\n".join(lines), flush=True)
        status = "" if result.returncode == 0 else f" - FAILED (exit {result.returncode})"
        if result.returncode:
            failures += 1
            lines += ["", *result.stderr.strip().splitlines()[-15:]]
        sections.append(f"## {name}{status}\n\n`python {' '.join(command)}` ({time.perf_counter() - clock:.0f} s)\n\n```\n"
                        + "\n".join(lines) + "\n```\n")
    header = (f"# Benchmark results\n\n{started:%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
              f"{platform.processor() or platform.machine()} · Python {platform.python_version()} · "
              f"`python bench/run_all.py{' --quick' if args.quick else ''}`"
              f"{' with PostgreSQL' if pg_url else ' (no PostgreSQL URL: SQLite only)'}\n\n"
              "Each line shows the figure next to its target (`ok` / `MISSED`). Timings are medians unless the line "
              "says otherwise. The load test is `python bench/load.py` (bench/LOAD.md).\n\n")
    Path(args.output).write_text(header + "\n".join(sections))
    print(f"wrote {args.output}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
