"""The desk's book from files: tradeboard import ENTITY FILE [--dry-run]."""

from __future__ import annotations

import time
from pathlib import Path

import click

from app.cli.common import bump_cache, echo, ensure_schema, load_settings

commands = click.Group()

ENTITY_NAMES = ("accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts",
                "paper-trades", "paper-signals", "bars")
SHOWN_PROBLEMS = 50  # bad rows printed; --errors FILE keeps them all


@commands.command("import")
@click.argument("entity", type=click.Choice(ENTITY_NAMES))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "ndjson", "csv", "parquet"]), default=None,
              help="The file's format (default: from its suffix).")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would change; write nothing.")
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every bad row to this CSV file (line, field, message, valid).")
def import_command(entity: str, file: Path, fmt: str | None, dry_run: bool, errors_file: Path | None) -> None:
    """Import ENTITY rows from FILE (CSV, NDJSON, JSON or Parquet), with the same columns, checks and
    keys as POST /api/v1/ingest/ENTITY: all rows or none, upserted on their key, so importing a file
    again changes nothing. Positions and closed trades follow imported executions."""
    from tqdm.auto import tqdm

    from data_access.db import make_engine
    from data_access.ingest import IngestBusy, IngestRejected, UnreadableBody, Writer, ingest, parse_file

    settings = load_settings()
    started = time.perf_counter()
    try:
        parsed = parse_file(file, fmt)
    except UnreadableBody as exc:
        raise click.ClickException(str(exc)) from None
    rows = len(parsed.frame)
    echo(f"read {rows:,} row{'' if rows == 1 else 's'} from {file} in {time.perf_counter() - started:.1f} s")
    ensure_schema(settings.DATABASE_URL, "executions")
    engine = make_engine(settings.DATABASE_URL)
    bar = tqdm(total=len(parsed.frame), unit="rows", unit_scale=True, desc=f"writing {entity}", disable=dry_run)
    try:
        result = ingest(engine, entity, parsed, Writer("admin"), dry_run=dry_run, progress=bar.update)
    except IngestRejected as exc:
        bar.close()
        _report(exc, errors_file)
        raise click.ClickException(f"{exc}") from None
    except IngestBusy as exc:
        raise click.ClickException(f"{exc}: nothing was written; run it again") from None
    finally:
        bar.close()
        engine.dispose()
    if result.families and not dry_run:
        bump_cache(settings, *result.families)
    seconds = time.perf_counter() - started
    verb = "would be" if dry_run else "were"
    echo(f"{entity}: {result.received:,} rows: {result.inserted:,} inserted, {result.updated:,} updated, "
         f"{result.unchanged:,} unchanged ({'dry run: nothing ' + verb + ' written' if dry_run else 'written'}; "
         f"{seconds:.1f} s, {result.received / max(seconds, 1e-9):,.0f} rows/s)")
    if result.ignored_columns:
        echo(f"ignored columns: {', '.join(result.ignored_columns)}")


def _report(exc, errors_file: Path | None) -> None:
    where = "line" if exc.line_kind == "line" else "row"
    for problem in exc.problems[:SHOWN_PROBLEMS]:
        at = problem["line"] if problem["line"] is not None else "-"
        echo(f"  {where} {at}: {problem['field'] or '(row)'}: {problem['message']} (valid: {problem['valid']})",
             err=True)
    if len(exc.problems) > SHOWN_PROBLEMS:
        echo(f"  ... and {len(exc.problems) - SHOWN_PROBLEMS:,} more"
             + ("" if errors_file else " (--errors FILE lists them all)"), err=True)
    if errors_file is not None:
        import csv

        with errors_file.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["line", "row", "field", "message", "valid"])
            writer.writeheader()
            writer.writerows(exc.problems)
        echo(f"every bad row: {errors_file}", err=True)
