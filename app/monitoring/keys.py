"""Where the request figures live in Redis (shared by every process; see the package docstring)."""

KEY = "tb:mon:"
ENDPOINTS_KEY = f"{KEY}endpoints"
SAMPLES_KEY = f"{KEY}lat:"
BUCKETS_KEY = f"{KEY}win:"
TOTALS_KEY = f"{KEY}tot:"
BUCKET_SECONDS = 10
SAMPLE_CAP = 5000  # latest requests kept per endpoint for the percentiles
QUANTILES = (0.5, 0.95, 0.99)
COUNT_FIELDS = ("count", "errors", "client_errors", "slow")
REDIS_TIMEOUT = 0.5
