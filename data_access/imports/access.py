"""Who may import, and whose imports one may see: ``admin``, ``ingest`` and ``developer`` import
(a developer's rows are checked against their own strategies by the ingest path); an admin sees
every import, the others their own."""

from __future__ import annotations

IMPORT_ROLES = ("admin", "ingest", "developer")


def may_import(user) -> bool:
    return user is not None and getattr(user, "role", None) in IMPORT_ROLES


def may_see(user, record: dict | None) -> bool:
    return record is not None and may_import(user) and (user.role == "admin" or record["user_id"] == user.id)
