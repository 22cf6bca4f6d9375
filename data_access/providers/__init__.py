"""The machinery every external provider of values per symbol shares (prices in `data_access.prices`,
gamma exposure in `data_access.gex`): fail-soft lookups with every failure named (`fail_soft`), the
last good value per symbol in Redis (`last_good`), concurrent HTTP GETs with a cap, timeouts and
retries (`http`), and the clock, symbols and result sets (`values`)."""

from data_access.providers.fail_soft import FailSoftProvider
from data_access.providers.http import HttpFetcher
from data_access.providers.last_good import LAST_GOOD_TTL_SECONDS, LastGoodStore
from data_access.providers.values import Clock, Results, Unavailable, aware, parse_time, seed, unique, utc_now

__all__ = ["LAST_GOOD_TTL_SECONDS", "Clock", "FailSoftProvider", "HttpFetcher", "LastGoodStore", "Results",
           "Unavailable", "aware", "parse_time", "seed", "unique", "utc_now"]
