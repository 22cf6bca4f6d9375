"""The browser import's tables (data_access/imports/): each file brought in on the /import page, its
bytes while it waits to be checked and committed, and the column mappings saved as presets.
Re-exported by data_access.models."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from data_access.db import Base


class Import(Base):
    """One file brought in through /import: who, when, what, and where it got to.

    ``status``: uploaded -> checking -> valid | invalid -> committing -> committed | failed; a
    committed import that only inserted rows can go on to undoing -> undone."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str] = mapped_column(String(64))  # kept when the user is gone
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list] = mapped_column(JSON)  # the file's column names, in order
    sample: Mapped[list] = mapped_column(JSON)  # its first records, raw, for the mapping's preview
    entity: Mapped[str | None] = mapped_column(String(32))
    preset: Mapped[str | None] = mapped_column(String(128))
    mapping: Mapped[dict | None] = mapped_column(JSON)  # field -> the file's column
    options: Mapped[dict | None] = mapped_column(JSON)  # a preset's choices (e.g. the strategy of new signals)
    status: Mapped[str] = mapped_column(String(16), index=True)
    rows: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict | None] = mapped_column(JSON)  # entity -> {inserted, updated, unchanged}
    message: Mapped[str | None] = mapped_column(Text)  # why it failed, or cannot be undone
    problem_count: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[bytes | None] = mapped_column(LargeBinary)  # every bad field, zlib-compressed JSON
    inserted: Mapped[bytes | None] = mapped_column(LargeBinary)  # the rows inserted, per entity (for undo)
    checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    committed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    seconds: Mapped[float | None] = mapped_column(Float)  # the commit's duration


class ImportChunk(Base):
    """An uploaded file's bytes, in order, until it is committed or discarded: in the database, so a
    worker on another machine reads what a web replica received with no shared disk."""

    __tablename__ = "import_chunks"

    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportPreset(Base):
    """A column mapping saved under a name, to be picked for the next file of the same shape."""

    __tablename__ = "import_presets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    entity: Mapped[str] = mapped_column(String(32))
    mapping: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
