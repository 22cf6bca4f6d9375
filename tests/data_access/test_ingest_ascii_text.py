"""Text fields of ASCII text are checked by Arrow's kernels; every result (value, bad rows,
messages) is the one the per-value pandas path gives for the same column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from data_access.ingest import fields
from data_access.ingest.fields import Field

ascii_cells = st.one_of(st.none(), st.text(alphabet=st.characters(max_codepoint=127), max_size=8),
                        st.sampled_from(["buy", " SELL ", "Filled", "\x1cBUY\t", "", "  "]))
FIELDS = [Field("signal_id", max_len=5), Field("symbol", kind="symbol", max_len=4, required=False),
          Field("side", kind="choice", choices=("BUY", "SELL")),
          Field("status", kind="choice", choices=("open", "closed"), case="lower")]


def _coerce(field: Field, raw: pd.Series):
    problems = []
    values = field.coerce(raw, problems)
    return values.tolist(), [(p.row, p.field, p.message, p.valid) for p in problems]


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(ascii_cells, max_size=30), field=st.sampled_from(FIELDS),
       dtype=st.sampled_from([object, "str"]))
def test_the_arrow_path_agrees_with_the_pandas_path(cells, field, dtype):
    raw = pd.Series(cells, dtype=dtype)
    assert fields._ascii(raw) is not None or not len(raw) or raw.isna().all()
    fast = _coerce(field, raw)
    original = fields._ascii
    fields._ascii = lambda _raw: None
    try:
        slow = _coerce(field, raw)
    finally:
        fields._ascii = original
    normalise = lambda vs: [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
                            for v in vs]
    assert normalise(fast[0]) == normalise(slow[0])
    assert fast[1] == slow[1]


def test_text_that_is_not_ascii_takes_the_pandas_path():
    raw = pd.Series(["straße", "ok"], dtype=object)
    assert fields._ascii(raw) is None
    values = _coerce(Field("symbol", kind="symbol"), raw)[0]
    assert values[1] == "OK" and values[0] == pd.Series(["straße"], dtype="string").str.upper().iat[0]
