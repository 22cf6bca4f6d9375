"""Bodies as real senders write them: Excel's BOM, trailing commas, the word null, a repeated column,
ids that a Parquet or JSON writer made floats, dust quantities. Each is read as the sender meant it,
or refused with a clear error; never misread."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from data_access.ingest import ENTITIES, UnreadableBody, parse
from data_access.ingest.validate import check

BOM = b"\xef\xbb\xbf"


def checked(entity: str, data: bytes, fmt: str):
    return check(parse(data, fmt), ENTITIES[entity])


def test_a_byte_order_mark_is_read_past_in_every_text_format():
    rows = {
        "json": b'[{"account": "P", "starting_cash": 100}]',
        "ndjson": b'{"account": "P", "starting_cash": 100}\n',
        "csv": b"account,starting_cash\nP,100\n",
    }
    for fmt, data in rows.items():
        result = checked("paper-accounts", BOM + data, fmt)
        assert not result.problems, (fmt, result.problems)
        assert result.frame["account"].tolist() == ["P"]


def test_a_trailing_comma_on_each_row_does_not_shift_the_columns():
    result = checked("paper-accounts", b"account,starting_cash,cash\nP,100,90,\nQ,200,150,\n", "csv")
    assert not result.problems
    assert result.frame["account"].tolist() == ["P", "Q"] and result.frame["cash"].tolist() == [90.0, 150.0]


def test_the_word_null_in_a_csv_cell_is_no_value():
    data = (b"signal_id,strategy_name,symbol,side,quantity,received_time,execution_status,reject_reason,filled_at\n"
            b"s1,S,SPY,BUY,1,2026-12-04T14:30:00Z,PENDING,null,null\n")
    result = checked("signals", data, "csv")
    assert not result.problems
    assert pd.isna(result.frame["reject_reason"].iat[0]) and pd.isna(result.frame["filled_at"].iat[0])


def test_a_column_named_twice_is_refused():
    with pytest.raises(UnreadableBody, match="broker more than once"):
        parse(b"account_name,broker,net_contributions,broker\nA,IB,1,GS\n", "csv")


def test_whole_number_ids_written_as_floats_read_as_the_same_id_in_every_format():
    frame = pd.DataFrame({"account": [1234567.0, 1234568.0], "starting_cash": [100.0, 200.0]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    from_parquet = checked("paper-accounts", buffer.getvalue(), "parquet")
    from_json = checked("paper-accounts", b'[{"account": 1234567.0, "starting_cash": 1}]', "json")
    from_csv = checked("paper-accounts", b"account,starting_cash\n1234567,1\n", "csv")
    assert from_parquet.frame["account"].tolist() == ["1234567", "1234568"]
    assert from_json.frame["account"].tolist() == from_csv.frame["account"].tolist() == ["1234567"]
    assert checked("paper-accounts", b'[{"account": 1.5, "starting_cash": 1}]', "json").frame["account"].iat[0] == "1.5"


def test_a_quantity_too_small_to_hold_is_refused_naming_the_minimum():
    data = b"execution_id,signal_id,filled_at,avg_fill_price,filled_quantity\ne1,s1,2026-12-04T14:30:00Z,10,1e-10\n"
    (problem,) = checked("executions", data, "csv").problems
    assert problem.field == "filled_quantity" and "1e-09" in problem.message


def test_a_value_past_the_headers_last_column_is_refused_not_dropped():
    with pytest.raises(UnreadableBody, match="line 3 has more values than the header has names"):
        parse(b"account,starting_cash\nP,100\nQ,200,oops\n", "csv")


def test_an_empty_or_header_only_csv_is_no_rows():
    assert len(parse(b"", "csv").frame) == 0
    assert len(checked("paper-accounts", b"account,starting_cash\n", "csv").frame) == 0


def test_a_header_ended_by_a_bare_carriage_return_or_holding_garbage_is_read_or_refused_never_a_crash():
    assert checked("paper-accounts", b"account,starting_cash\rP,100\r", "csv").frame["account"].tolist() == ["P"]
    for garbage in (b"\xc3\x96\r\xc3\x80t}\x0b\xc2\xbe", b'"unterminated\r\n', b"a\x00b,c\n1,2\n"):
        try:
            parse(garbage, "csv")
        except UnreadableBody:
            pass
