"""Column mappings saved under a name, and the presets that ship: pick one for the next file of the
same shape. A saved preset is an entity and a mapping; a shipped one (IBKR) also reshapes the file."""

from __future__ import annotations

import re

from sqlalchemy import Connection, delete, insert, select, update

from data_access import models as m
from data_access.imports import ibkr
from data_access.ingest.entities import ENTITIES

BUILTIN = {ibkr.NAME: ibkr.ENTITY}
NAME_RE = re.compile(r"^[\w .,()&+:/-]{1,128}$")


class PresetError(ValueError):
    pass


def names(conn: Connection) -> list[dict]:
    """Every preset: the shipped ones first, then the saved ones by name."""
    saved = conn.execute(select(m.ImportPreset.name, m.ImportPreset.entity).order_by(m.ImportPreset.name)).all()
    return ([{"name": n, "entity": e, "builtin": True} for n, e in BUILTIN.items()]
            + [{"name": n, "entity": e, "builtin": False} for n, e in saved])


def get(conn: Connection, name: str) -> dict | None:
    if name in BUILTIN:
        return {"name": name, "entity": BUILTIN[name], "mapping": None, "builtin": True}
    row = conn.execute(select(m.ImportPreset.entity, m.ImportPreset.mapping).where(m.ImportPreset.name == name)).first()
    return None if row is None else {"name": name, "entity": row.entity, "mapping": dict(row.mapping), "builtin": False}


def save(conn: Connection, name: str, entity: str, mapping: dict, username: str, admin: bool = False) -> None:
    """Saved under ``name``: a saved preset of that name is replaced by the user who saved it or an
    admin, and refused to anyone else (the next file mapped with it would be theirs to get wrong);
    a shipped name cannot be reused."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise PresetError("A preset's name is 1-128 letters, digits, spaces or .,()&+:/- characters.")
    if name in BUILTIN:
        raise PresetError(f"{name!r} is a preset that ships with tradeboard: choose another name.")
    if entity not in ENTITIES:
        raise PresetError(f"unknown entity {entity!r}")
    fields = set(ENTITIES[entity].field_names)
    clean = {f: c for f, c in mapping.items() if f in fields and c}
    stored = conn.execute(select(m.ImportPreset.created_by).where(m.ImportPreset.name == name)).first()
    if stored is not None:
        if stored.created_by != username and not admin:
            raise PresetError(f"{name!r} is {stored.created_by}'s preset: save yours under another name.")
        conn.execute(update(m.ImportPreset).where(m.ImportPreset.name == name)
                     .values(entity=entity, mapping=clean, created_by=username))
    else:
        conn.execute(insert(m.ImportPreset).values(name=name, entity=entity, mapping=clean, created_by=username))


def remove(conn: Connection, name: str) -> None:
    conn.execute(delete(m.ImportPreset).where(m.ImportPreset.name == name))
