"""The only layer that talks SQL or the cache: models, queries, the section cache, demo data."""
