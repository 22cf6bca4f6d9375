import pytest

from data_access.cache import SectionCache
from app.services import PrivateRedis


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def cache(redis_server):
    c = SectionCache()
    c.configure(cache_type="RedisCache", redis_url=redis_server.url, ttl={"short": 1, "medium": 60, "long": 3600},
                lock_seconds=10, wait_seconds=5, retry_seconds=0.2)
    return c
