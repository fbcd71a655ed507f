"""Sequential token requests made as the kernel helper makes them (``urllib``, one connection per call,
``Authorization: token …``, ``X-Token-Broker-Client: kernel``), rotating among the routes given (the broker's route,
the no-op route, the floor route, ...), so that all see the same machine. Prints one JSON line of latencies in
milliseconds, by route name.

    python client.py TOKEN REQUESTS WARMUP NAME=URL...
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
import urllib.request


def call(url: str, token: str) -> float:
    request = urllib.request.Request(
        url,
        data=json.dumps({"min_ttl": 60}).encode(),
        method="POST",
        headers={
            "Authorization": f"token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Token-Broker-Client": "kernel",
        },
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        status = response.status
    elapsed = (time.perf_counter() - started) * 1000
    if status != 200 or b"access_token" not in body:
        raise SystemExit(f"{url} answered {status}")
    return elapsed


def main() -> None:
    token, requests, warmup = sys.argv[1:4]
    routes = [tuple(arg.split("=", 1)) for arg in sys.argv[4:]]
    # Every order in turn: each route is as often in each place, and as often right after each of the others, so
    # no route always runs on a machine left in the same state by the same neighbour.
    orders = list(itertools.permutations(routes))
    times: dict[str, list[float]] = {name: [] for name, _ in routes}
    for i in range(int(warmup) + int(requests)):
        for name, url in orders[i % len(orders)]:
            elapsed = call(url, token)
            if i >= int(warmup):
                times[name].append(elapsed)
    print(
        json.dumps(
            {
                name: {
                    "p50_ms": statistics.median(values),
                    "p90_ms": statistics.quantiles(values, n=10)[-1],
                    "requests": len(values),
                }
                for name, values in times.items()
            }
        )
    )


if __name__ == "__main__":
    main()
