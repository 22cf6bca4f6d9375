"""CPU per warm JSON request in-process (Flask's test client, a bearer token, the whole app: auth,
rate limiter, monitoring, security headers), and the longest cyclic-GC pause meanwhile. A
benchmark, not a test; it shows what the load test's throughput is made of without the noise of
wrk and gunicorn on the same 2 cores.

    python bench/request_cpu.py [--requests 3000] [--scale demo]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ENDPOINTS = {"lite": "/api/v1/dashboards/paper-trading/lite", "paper-trading": "/api/v1/dashboards/paper-trading",
             "client": "/api/v1/dashboards/client", "strategy": "/api/v1/dashboards/strategy-performance"}
TARGET_LITE_MS = 2.0  # the lite endpoint's in-process target (bench/RESULTS.md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per endpoint (lite; a tenth for the rest)")
    parser.add_argument("--scale", default="demo", choices=("demo", "large"))
    args = parser.parse_args()

    from app import create_app
    from app.auth import create_token, create_user
    from app.config import Settings
    from app.services import PrivateRedis
    from bench.common import seeded_url

    work = Path(tempfile.mkdtemp(prefix="tb-bench-cpu-"))
    redis_server = PrivateRedis(work).start()
    try:
        url = seeded_url(args.scale)
        dash_app = create_app(Settings(DATABASE_URL=url, REDIS_URL=redis_server.url, VAR_DIR=str(work),
                                       SECRET_KEY="bench-secret-key-not-for-production-0123456789",
                                       CACHE_TYPE="RedisCache"))
        with dash_app.server.extensions["tradeboard"].session() as session:
            username = f"cpu-bench-{int(time.time())}"
            create_user(session, username, "analyst", password="bench-password-123")
            headers = {"Authorization": f"Bearer {create_token(session, username, 'cpu')}"}
        client = dash_app.server.test_client()
        gc.collect()
        gc.freeze()  # as wsgi.py does in every web worker
        pauses: list[float] = []
        started: dict[str, float] = {}

        def on_gc(phase: str, _info: dict) -> None:
            if phase == "start":
                started["t"] = time.perf_counter()
            else:
                pauses.append((time.perf_counter() - started["t"]) * 1000)

        gc.callbacks.append(on_gc)
        for name, path in ENDPOINTS.items():
            n = args.requests if name == "lite" else max(20, args.requests // 10)
            for _ in range(max(20, n // 10)):  # warm: sections cached, statements compiled
                assert client.get(path, headers=headers).status_code == 200, path
            pauses.clear()
            cpu = time.process_time()
            for _ in range(n):
                client.get(path, headers=headers)
            per_request = (time.process_time() - cpu) / n * 1000
            target = f"target < {TARGET_LITE_MS:g} ms  {'ok' if per_request < TARGET_LITE_MS else 'MISSED'}" \
                if name == "lite" else "(no target: the load test's throughput)"
            print(f"{name + ' warm, CPU per request':<40}: {per_request:8.3f} ms  {target}")
            print(f"{'  longest GC pause, GC pauses':<40}: {max(pauses, default=0.0):8.2f} ms, {len(pauses)} in {n:,} requests")
        gc.callbacks.remove(on_gc)
    finally:
        redis_server.stop()


if __name__ == "__main__":
    main()
