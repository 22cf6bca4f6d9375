"""Bars from CSV and Parquet: column names in any case, time columns and indexes, time zones, bad
rows reported by line with nothing imported, idempotent upserts on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.bars_import import (
    CHUNK_ROWS,
    BarsImportError,
    check_symbol,
    check_timeframe,
    import_bars,
    load_bars,
    read_bars,
    stored_series,
    validate_frame,
)
from data_access.db import Base, make_engine
from data_access.models import Bar


def make_ohlcv(n: int = 30, seed: int = 7, start: str = "2024-01-01") -> pd.DataFrame:
    """Valid daily bars with a ``time`` column (naive UTC)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    return pd.DataFrame({
        "time": pd.date_range(start, periods=n, freq="D").astype("datetime64[ns]"),
        "open": open_.round(4), "high": high.round(4), "low": low.round(4), "close": close.round(4),
        "volume": rng.integers(1_000, 9_000, n).astype(float),
    })


def write_csv(path, frame: pd.DataFrame, names: dict[str, str], time_format: str = "%Y-%m-%d") -> None:
    out = frame.copy()
    out["time"] = out["time"].dt.strftime(time_format)
    out.rename(columns=names).to_csv(path, index=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def stored(engine, symbol: str = "SPY", timeframe: str = "1d") -> pd.DataFrame:
    return load_bars(engine, symbol, timeframe)


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Bar)).scalar_one()


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("time_name", ["timestamp", "date", "datetime", "Date", "TIMESTAMP", "DateTime"])
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_csv_columns_are_found_in_any_letter_case_under_each_time_name(tmp_path, time_name, case):
    bars = make_ohlcv(5)
    names = {"time": time_name, **{c: case(c) for c in ("open", "high", "low", "close", "volume")}}
    write_csv(tmp_path / "bars.csv", bars, names)
    frame = read_bars(tmp_path / "bars.csv")
    pd.testing.assert_frame_equal(frame, bars)


def test_csv_without_volume_imports_zero_volume_and_an_empty_volume_cell_is_zero(tmp_path):
    (tmp_path / "bars.csv").write_text("Date,Open,High,Low,Close,Volume\n"
                                       "2024-01-02,10,11,9,10.5,\n2024-01-03,10.5,11,10,10.7,250\n")
    assert read_bars(tmp_path / "bars.csv")["volume"].tolist() == [0.0, 250.0]
    (tmp_path / "novol.csv").write_text("date,open,high,low,close\n2024-01-02,10,11,9,10.5\n")
    assert read_bars(tmp_path / "novol.csv")["volume"].tolist() == [0.0]


def test_csv_rows_are_sorted_by_time(tmp_path):
    (tmp_path / "bars.csv").write_text("date,open,high,low,close\n2024-01-03,10,11,9,10.5\n2024-01-02,10,11,9,10\n")
    assert read_bars(tmp_path / "bars.csv")["time"].dt.day.tolist() == [2, 3]


def test_tz_aware_times_are_converted_to_utc_and_naive_times_are_utc(tmp_path):
    (tmp_path / "bars.csv").write_text(
        "datetime,open,high,low,close\n"
        "2024-03-01T09:30:00-05:00,10,11,9,10.5\n"
        "2024-03-01T16:00:00+01:00,10,11,9,10.5\n"
        "2024-03-01 18:00:00,10,11,9,10.5\n")
    times = read_bars(tmp_path / "bars.csv")["time"].tolist()
    assert times == [pd.Timestamp("2024-03-01 14:30"), pd.Timestamp("2024-03-01 15:00"),
                     pd.Timestamp("2024-03-01 18:00")]


def test_epoch_seconds_and_milliseconds_are_times(tmp_path):
    seconds = int(pd.Timestamp("2024-05-01", tz="UTC").timestamp())
    (tmp_path / "s.csv").write_text(f"timestamp,open,high,low,close\n{seconds},10,11,9,10\n")
    (tmp_path / "ms.csv").write_text(f"timestamp,open,high,low,close\n{seconds * 1000},10,11,9,10\n")
    assert read_bars(tmp_path / "s.csv")["time"].tolist() == [pd.Timestamp("2024-05-01")]
    assert read_bars(tmp_path / "ms.csv")["time"].tolist() == [pd.Timestamp("2024-05-01")]


def test_parquet_with_the_time_as_index(tmp_path):
    bars = make_ohlcv(8)
    upper = bars.rename(columns=str.upper).set_index("TIME")
    upper.index.name = None  # an unnamed DatetimeIndex is the time too
    upper.to_parquet(tmp_path / "bars.parquet")
    pd.testing.assert_frame_equal(read_bars(tmp_path / "bars.parquet"), bars)


def test_parquet_with_the_time_as_a_column_and_a_tz_aware_index(tmp_path):
    bars = make_ohlcv(8)
    bars.rename(columns={"time": "Timestamp", "close": "Close"}).to_parquet(tmp_path / "col.parquet", index=False)
    pd.testing.assert_frame_equal(read_bars(tmp_path / "col.parquet"), bars)

    aware = bars.set_index("time")
    aware.index = aware.index.tz_localize("UTC").tz_convert("America/New_York").rename("date")
    aware.to_parquet(tmp_path / "aware.pq")
    pd.testing.assert_frame_equal(read_bars(tmp_path / "aware.pq"), bars)


def test_parquet_bad_rows_are_reported_by_row_index(tmp_path):
    bars = make_ohlcv(6)
    bars.loc[3, "low"] = bars.loc[3, "high"] + 1
    bars.loc[5, "close"] = -1.0
    bars.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(BarsImportError) as info:
        read_bars(tmp_path / "bad.parquet")
    assert [line for line, _ in info.value.problems] == [3, 5]
    assert "row 3: low" in str(info.value) and "row 5: close -1 is not positive" in str(info.value)


def test_every_kind_of_bad_row_is_reported_with_its_csv_line(tmp_path):
    (tmp_path / "bad.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"      # line 1
        "2024-01-02,10,11,9,10.5,100\n"          # 2 ok
        "\n"                                     # 3 blank: skipped, still counted
        "2024-01-03,10.5,10,9,10.2,100\n"        # 4 high below the close
        "2024-01-04,abc,11,9,10,-5\n"            # 5 open not a number, negative volume
        "not a date,10,11,9,10,1\n"              # 6
        "2024-01-03,10,11,9,10,1\n"              # 7 duplicate of line 4
        "2024-01-08,10,11,10.5,10.8,1\n"         # 8 low above the open
        "2024-01-09,0,11,9,10,1\n"               # 9 zero open
        "2024-01-10,10,inf,9,10,1\n"             # 10 infinite high
        "2024-01-11,10,11,9,,1\n"                # 11 empty close
        "2024-01-12,10,11,9,10,1\n")             # 12 ok
    with pytest.raises(BarsImportError) as info:
        read_bars(tmp_path / "bad.csv")
    problems = dict(info.value.problems)
    assert sorted(problems) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert "high 10 is below max(open, close) 10.5" in problems[4]
    assert "open 'abc' is not a number" in problems[5] and "volume -5 is negative" in problems[5]
    assert "'not a date' is not a date/time" in problems[6]
    assert "duplicate time 2024-01-03T00:00:00 (first on line 4)" in problems[7]
    assert "low 10.5 is above min(open, close) 10" in problems[8]
    assert problems[9] == "open 0 is not positive"  # no high/low comparisons with an invalid price
    assert "high 'inf' is not a number" in problems[10]
    assert "close empty is not a number" in problems[11]
    assert "8 bad row(s) of 10; nothing was imported" in str(info.value)


def test_many_bad_rows_list_twenty_and_count_the_rest(tmp_path):
    lines = ["date,open,high,low,close"] + [f"2024-01-{d:02d},10,9,8,10" for d in range(1, 31)]
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BarsImportError) as info:
        read_bars(tmp_path / "bad.csv")
    text = str(info.value).splitlines()
    assert len(info.value.problems) == 30
    assert len(text) == 1 + 20 + 1 and text[-1] == "  and 10 more"
    assert text[1].startswith("  line 2: high 9 is below")


@pytest.mark.parametrize("content, message", [
    ("when,open,high,low,close\n2024-01-02,1,2,1,1\n",
     "no time: need a time column named one of timestamp, date, datetime"),
    ("date,open,high,close\n2024-01-02,1,2,1\n", "missing column(s) low"),
    ("date,open,high,low,close\n", "no bars in the file"),
    ("", "the file is empty"),
])
def test_unusable_files_are_refused_with_the_reason(tmp_path, content, message):
    (tmp_path / "f.csv").write_text(content)
    with pytest.raises(BarsImportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_bars(tmp_path / "f.csv")


def test_a_missing_file_and_a_broken_parquet_are_refused(tmp_path):
    with pytest.raises(BarsImportError, match="no such file"):
        read_bars(tmp_path / "nope.csv")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(BarsImportError, match="not a readable Parquet file"):
        read_bars(tmp_path / "broken.parquet")


def test_symbol_is_upper_cased_and_timeframes_are_checked():
    assert check_symbol(" btcusd ") == "BTCUSD"
    assert check_timeframe("1H") == "1h"
    with pytest.raises(ValueError, match="valid timeframes: 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w"):
        check_timeframe("2d")
    with pytest.raises(ValueError):
        check_symbol("  ")


# --------------------------------------------------------------------------- writing (SQLite and PostgreSQL)


def test_import_inserts_then_reimport_is_idempotent_and_applies_changed_values(db):
    bars = make_ohlcv(CHUNK_ROWS * 2 + 300)  # several chunks
    first = import_bars(db, bars, "spy", "1d")
    assert (first.symbol, first.rows, first.inserted) == ("SPY", len(bars), len(bars))
    assert (first.updated, first.unchanged) == (0, 0)
    assert first.first == bars["time"].iloc[0].to_pydatetime() and first.last == bars["time"].iloc[-1].to_pydatetime()
    pd.testing.assert_frame_equal(stored(db), bars)

    again = import_bars(db, bars, "SPY", "1d")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(bars))
    assert count(db) == len(bars)

    changed = bars.copy()
    changed.loc[10, ["close", "high"]] = [changed.loc[10, "high"] + 1, changed.loc[10, "high"] + 2]
    extra = make_ohlcv(3, start=str((bars["time"].iloc[-1] + pd.Timedelta(days=1)).date()))
    result = import_bars(db, pd.concat([changed, extra], ignore_index=True), "SPY", "1d")
    assert (result.inserted, result.updated, result.unchanged) == (3, 1, len(bars) - 1)
    assert count(db) == len(bars) + 3
    pd.testing.assert_frame_equal(stored(db), pd.concat([changed, extra], ignore_index=True))


def test_symbols_and_timeframes_are_separate_series(db):
    bars = make_ohlcv(5)
    import_bars(db, bars, "SPY", "1d")
    import_bars(db, bars, "QQQ", "1d")
    import_bars(db, bars, "SPY", "1h")
    assert [(s["symbol"], s["timeframe"], s["bars"]) for s in stored_series(db)] == [
        ("QQQ", "1d", 5), ("SPY", "1d", 5), ("SPY", "1h", 5)]
    window = load_bars(db, "spy", "1d", start="2024-01-02", end=dt.datetime(2024, 1, 4))
    assert window["time"].dt.day.tolist() == [2, 3, 4]


def test_a_bad_frame_imports_nothing(db):
    bars = make_ohlcv(10)
    import_bars(db, bars, "SPY")
    bad = bars.copy()
    bad[["open", "high", "low", "close"]] *= 2  # new values everywhere...
    bad.loc[7, "low"] = -3.0  # ...and one bad row
    with pytest.raises(BarsImportError) as info:
        import_bars(db, bad, "SPY")
    assert [line for line, _ in info.value.problems] == [7]
    pd.testing.assert_frame_equal(stored(db), bars)


def test_tz_aware_frame_times_are_stored_naive_utc(db):
    bars = make_ohlcv(3)
    aware = bars.copy()
    aware["time"] = aware["time"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    result = import_bars(db, validate_frame(aware), "SPY", "1h")
    assert result.first == dt.datetime(2024, 1, 1)
    pd.testing.assert_frame_equal(stored(db, timeframe="1h"), bars)


def test_import_into_a_database_without_tables_says_to_migrate(sqlite_url):
    with pytest.raises(RuntimeError, match="tradeboard migrate"):
        import_bars(sqlite_url, make_ohlcv(3), "SPY")
