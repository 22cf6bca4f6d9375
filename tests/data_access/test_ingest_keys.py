"""The Arrow key matching of large batches agrees with pandas' own, nulls and types included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from data_access.ingest import keys

texts = st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(needles=texts, haystack=st.lists(st.text(max_size=6), max_size=40, unique=True))
def test_positions_are_pandas_get_indexer_with_nulls_unfound(needles, haystack):
    expected = pd.Index(haystack, dtype=object).get_indexer(pd.Index(needles, dtype=object))
    expected[[v is None for v in needles]] = -1
    got = keys.positions(pd.Series(needles, dtype=object), pd.Series(haystack, dtype=object))
    assert got.tolist() == expected.tolist()


def test_positions_of_integers_and_of_arrow_strings():
    assert keys.positions(np.array([3, 5, 7]), np.array([7, 3])).tolist() == [1, -1, 0]
    needles = pd.Series(["b", None, "a"], dtype="str")
    assert keys.positions(needles, pd.Series(["a", "b"], dtype=object)).tolist() == [1, -1, 0]
    assert keys.positions(pd.Series([None, None], dtype=object), pd.Series(["a"])).tolist() == [-1, -1]


@settings(max_examples=100, deadline=None)
@given(values=texts)
def test_has_duplicates_is_pandas_duplicated(values):
    assert keys.has_duplicates(pd.Series(values, dtype=object)) == pd.Series(values, dtype=object).duplicated().any()


def test_has_duplicates_of_a_large_batch_finds_one_repeat(monkeypatch):
    ids = pd.Series([f"sig_{i:07d}" for i in range(200_000)], dtype=object)
    assert not keys.has_duplicates(ids)
    ids.iat[150_000] = ids.iat[7]
    assert keys.has_duplicates(ids)
