"""The write path of the desk's own book: one validation and one writer per entity, shared by the
ingest API, ``tradeboard import`` and the demo seeder.

``parse``/``parse_file`` read a body or file into raw columns; ``ingest`` checks, upserts and
re-derives in one transaction and returns the counts, or raises ``IngestRejected`` (every bad row;
nothing written), ``IngestForbidden`` or ``IngestBusy`` (another batch holds the lock). The caller
bumps ``result.families`` after it returns.
"""

from data_access.ingest.batch import (IngestBusy, IngestForbidden, IngestRejected, IngestResult, Writer, ingest,
                                   ingest_all)
from data_access.ingest.entities import ENTITIES
from data_access.ingest.parse import CONTENT_TYPES, FORMATS, UnreadableBody, parse, parse_file

__all__ = ["CONTENT_TYPES", "ENTITIES", "FORMATS", "IngestBusy", "IngestForbidden", "IngestRejected", "IngestResult",
           "UnreadableBody", "Writer", "ingest", "ingest_all", "parse", "parse_file"]
