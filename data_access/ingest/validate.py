"""A parsed batch checked against its entity, without the database: every field of every row,
then the cross-field rules. References to other rows are checked by the writer, in its transaction."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data_access.ingest.entities import Entity
from data_access.ingest.fields import Problem
from data_access.ingest.parse import Parsed


@dataclass
class Checked:
    frame: pd.DataFrame  # one typed column per field of the entity
    problems: list[Problem]
    ignored_columns: list[str]


def check(parsed: Parsed, entity: Entity) -> Checked:
    raw = parsed.frame
    problems = list(parsed.problems)
    n = len(raw)
    missing_columns = [name for name in entity.required if name not in raw.columns]
    if n and missing_columns:  # one problem per column, not one per row of a file without it
        problems += [Problem(-1, name, "is a required column and the batch has none",
                             f"a column {name} in every row") for name in missing_columns]
    typed = {}
    for field in entity.fields:
        column = raw[field.name] if field.name in raw.columns else pd.Series([None] * n, index=raw.index, dtype=object)
        if field.name in missing_columns:
            typed[field.name] = column
            continue
        typed[field.name] = field.coerce(column.reset_index(drop=True), problems)
    frame = pd.DataFrame(typed) if typed else pd.DataFrame(index=range(n))
    frame.index = range(n)
    if entity.rules is not None and n and not missing_columns:
        bad_rows = {p.row for p in problems}
        ok = frame.drop(index=[r for r in bad_rows if r >= 0])
        problems += [Problem(int(ok.index[p.row]), p.field, p.message, p.valid)
                     for p in entity.rules(ok.reset_index(drop=True))]
    ignored = [str(c) for c in raw.columns if c not in entity.field_names]
    return Checked(frame, problems, ignored)
