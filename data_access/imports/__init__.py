"""The browser import (/import): a file uploaded, its entity and columns matched to tradeboard's,
checked whole, committed with progress, and undone when it only inserted rows.

``files`` (formats, first look, the bytes in the database), ``mapping`` (entity detection and the
column guess), ``ibkr`` (the Interactive Brokers Flex preset), ``presets`` (saved mappings),
``jobs`` (receive, check, commit, history), ``undo``, ``progress`` (a running job's rows in Redis).
Every write goes through data_access.ingest: the same validation, keys and lock as the API.
"""
