"""Hashing of key columns for batches of millions of rows, through Arrow: text keys hash several
times faster there than as pandas' Python objects (10M signal ids matched against 10M stored:
4.5 s here, 15 s with pandas' get_indexer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HASH_FROM = 100_000  # values: fewer are checked by pandas directly


def _arrow(values) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, pd.Series):
        values = values.array if isinstance(values.dtype, pd.ArrowDtype | pd.StringDtype) else values.to_numpy()
        if hasattr(values, "_pa_array"):
            return values._pa_array.combine_chunks()
    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return pa.array(array)
    return pa.array(array.astype(object), from_pandas=True)


def positions(needles, haystack) -> np.ndarray:
    """For each of ``needles``, the position of an equal value in ``haystack`` (the first), or -1;
    a null needle is -1. Values compare as the same type: pass text with text, integers with integers."""
    needles, haystack = _arrow(needles), _arrow(haystack)
    if pa.types.is_null(needles.type) or pa.types.is_null(haystack.type):
        return np.full(len(needles), -1, dtype=np.int64)
    if needles.type != haystack.type:
        haystack = haystack.cast(needles.type)
    at = pc.index_in(needles, value_set=haystack)
    return at.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def has_duplicates(values) -> bool:
    """Whether any value repeats (nulls count as values). 64-bit hashes first, which pandas makes
    unique-checks of faster than of text; only when two hashes repeat are the values compared."""
    series = pd.Series(values).reset_index(drop=True)
    if len(series) < HASH_FROM:
        return bool(series.duplicated().any())
    hashes = pd.util.hash_array(series.to_numpy(dtype=object), categorize=False)
    if pd.Index(hashes.view(np.int64)).is_unique:
        return False
    return bool(series.duplicated().any())
