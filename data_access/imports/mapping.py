"""From a file's own column names to tradeboard's fields: which entity the file most likely holds, a
best guess of the column for each field, and the mapping applied to the parsed file.

A mapping is ``{field: column}`` (a field left out or mapped to nothing is absent from the file).
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

from data_access.ingest.entities import ENTITIES, Entity
from data_access.ingest.fields import Problem
from data_access.ingest.parse import Parsed

# Other names spreadsheets and brokers give a field (normalised: lower case, letters and digits only).
ALIASES: dict[str, tuple[str, ...]] = {
    "signal_id": ("signal", "signalid", "sigid", "orderref", "orderreference", "clientorderid", "ref"),
    "strategy_name": ("strategy", "strat", "model", "book"),
    "symbol": ("ticker", "instrument", "security", "asset", "sym", "underlying"),
    "side": ("direction", "buysell", "action", "bs", "longshort"),
    "quantity": ("qty", "shares", "size", "units", "amount", "contracts", "volume_traded"),
    "received_time": ("time", "timestamp", "receivedat", "createdat", "signaltime", "datetime", "date"),
    "execution_status": ("status", "state", "orderstatus"),
    "reject_reason": ("reason", "rejectionreason", "error"),
    "filled_at": ("filltime", "executedat", "executiontime", "tradetime", "datetime", "time", "timestamp"),
    "execution_id": ("execid", "fillid", "tradeid", "executionid", "ibexecid", "dealid", "id"),
    "avg_fill_price": ("price", "fillprice", "avgprice", "tradeprice", "executionprice", "averageprice"),
    "filled_quantity": ("qty", "quantity", "filledqty", "shares", "size", "units"),
    "commission": ("fee", "fees", "commissions", "ibcommission", "brokerage", "cost"),
    "account_name": ("account", "accountid", "clientaccountid", "portfolio", "accountname"),
    "broker": ("brokername", "custodian", "prime"),
    "net_contributions": ("contributions", "netdeposits", "deposits", "capital"),
    "currency": ("ccy", "currencyprimary", "basecurrency"),
    "date": ("asof", "day", "reportdate", "valuedate"),
    "equity": ("nav", "netliquidation", "networth", "totalequity"),
    "cash": ("cashbalance", "balance"),
    "margin_used": ("initmargin", "initialmargin", "marginreq", "maintmargin"),
    "margin_available": ("availablefunds", "excessliquidity", "buyingpower"),
    "unrealized_pnl": ("unrealized", "unrealizedpl", "openpnl", "fifopnlunrealized"),
    "allocation": ("weight", "alloc", "share"),
    "developer": ("owner", "author", "pm"),
    "trade_id": ("tradeid", "id", "ticket"),
    "entry_price": ("openprice", "entry", "priceopen"),
    "exit_price": ("closeprice", "exit", "priceclose"),
    "opened_at": ("opentime", "entrytime", "opendatetime"),
    "closed_at": ("closetime", "exittime"),
    "realized_pnl": ("pnl", "profit", "realizedpl", "netpnl"),
    "starting_cash": ("initialcash", "startingbalance", "initialbalance"),
    "source": ("strategy", "model", "signalsource"),
    "signal_at": ("time", "timestamp", "signaltime", "createdat"),
    "executed_at": ("filltime", "executiontime"),
    "time": ("date", "datetime", "timestamp", "bartime"),
    "open": ("o", "openprice"),
    "high": ("h", "highprice"),
    "low": ("l", "lowprice"),
    "close": ("c", "closeprice", "last", "adjclose"),
    "volume": ("v", "vol"),
    "timeframe": ("interval", "resolution", "period"),
}
FUZZY_CUTOFF = 0.85


def normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def guess(entity: Entity, columns: list[str]) -> dict[str, str]:
    """The likeliest column for each field of ``entity``: its own name first, then a known other
    name, then a close spelling; a column serves one field at most."""
    by_name = {normalised(c): c for c in reversed(columns)}  # the first of two spellings wins
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for rank in range(3):
        for field in entity.fields:
            if field.name in mapping:
                continue
            column = _candidate(field.name, by_name, taken, rank)
            if column is not None:
                mapping[field.name] = column
                taken.add(column)
    return {f.name: mapping[f.name] for f in entity.fields if f.name in mapping}


def _candidate(field: str, by_name: dict[str, str], taken: set[str], rank: int) -> str | None:
    free = {n: c for n, c in by_name.items() if c not in taken}
    if rank == 0:
        return free.get(normalised(field))
    if rank == 1:
        return next((free[a] for a in ALIASES.get(field, ()) if a in free), None)
    close = difflib.get_close_matches(normalised(field), list(free), n=1, cutoff=FUZZY_CUTOFF)
    return free[close[0]] if close else None


def detect(columns: list[str]) -> tuple[str, dict[str, str]]:
    """The entity whose fields the columns cover best (required fields first, exact names before
    guesses), and the guessed mapping for it."""
    exact = {normalised(c) for c in columns}

    def score(entity: Entity) -> tuple:
        mapping = guess(entity, columns)
        required = sum(1 for f in entity.required if f in mapping) / max(len(entity.required), 1)
        named = sum(1 for f in entity.field_names if normalised(f) in exact)
        return required, named, len(mapping)

    best = max(ENTITIES.values(), key=score)
    return best.name, guess(best, columns)


def apply(parsed: Parsed, mapping: dict[str, str | None]) -> Parsed:
    """The file's columns under the entity's field names; its other columns are left behind."""
    raw = parsed.frame
    wanted = {field: column for field, column in mapping.items() if column}
    missing = sorted({c for c in wanted.values() if c not in raw.columns})
    problems = list(parsed.problems)
    problems += [Problem(-1, field, f"is mapped to the column {column!r}, which the file does not have",
                         "a column of the file") for field, column in wanted.items() if column in missing]
    frame = pd.DataFrame({field: raw[column] for field, column in wanted.items() if column in raw.columns},
                         index=raw.index)
    return Parsed(frame, parsed.lines, problems, parsed.line_kind)
