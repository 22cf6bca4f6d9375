import pytest

from data_access.cache import SectionCache
from tests.redis_server import PrivateRedis


@pytest.fixture
def redis_server():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def cache(redis_server):
    c = SectionCache()
    c.configure(cache_type="RedisCache", redis_url=redis_server.url, ttl={"short": 1, "medium": 60, "long": 3600},
                lock_seconds=10, wait_seconds=5, retry_seconds=0.2)
    return c
