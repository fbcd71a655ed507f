"""The egress case's client, a Python process like a kernel: the same URL called through the broker's egress
(``broker_session(provider)``, as notebook code would) and directly (``requests``), alternated.

    python egress_bench_client.py SERVER_URL TOKEN PROVIDER download ROUNDS NAME=URL...
    python egress_bench_client.py SERVER_URL TOKEN PROVIDER latency REQUESTS WARMUP NAME=URL...

Route names say how each URL is called: ``egress`` with ``broker_session(PROVIDER)`` (the URL is the API's own),
``direct`` with a plain ``requests.Session``, ``floor…`` with a ``requests.Session`` sending the Jupyter server's
``Authorization: token`` (a route of the Jupyter server itself). Every session is made once and kept (its
connection too), as a notebook keeps one.

``download``: ``ROUNDS`` rounds; in each, every route once (the order rotates), ``get(url, stream=True)`` read with
``iter_content(1 MiB)``. Before and after each download a JSON line ``{"event": "start"|"end", "route", "round"}``
(the benchmark samples the servers' memory between them); the end line has this process's CPU seconds for it.
``latency``: ``REQUESTS`` small GETs per route after ``WARMUP`` ones, rotated, each answer read whole; the API says
whether it saw a bearer token, which must be so through the egress and not directly. The last line is the JSON summary.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time

import requests

from jupyter_token_broker import broker_session
from jupyter_token_broker.discovery import ServerInfo

CHUNK = 1 << 20


def sessions(server: ServerInfo, provider: str, names: list[str]) -> dict[str, requests.Session]:
    made: dict[str, requests.Session] = {}
    for name in names:
        if name == "egress":
            made[name] = broker_session(provider, server=server)
            continue
        session = requests.Session()
        session.trust_env = False
        if name.startswith("floor"):
            session.headers["Authorization"] = f"token {server.token}"
        elif name != "direct":
            raise SystemExit(f"unknown route {name!r}")
        made[name] = session
    return made


def emit(line: dict) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def download(session: requests.Session, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    received = 0
    with session.get(url, stream=True, timeout=300) as answer:
        if answer.status_code != 200:
            raise SystemExit(f"{url} answered {answer.status_code}: {answer.text[:300]}")
        for chunk in answer.iter_content(CHUNK):
            received += len(chunk)
    return time.perf_counter() - started, received


def run_download(made: dict[str, requests.Session], routes: list[tuple[str, str]], rounds: int) -> dict:
    seconds: dict[str, list[float]] = {name: [] for name, _ in routes}
    sizes: set[int] = set()
    for i in range(rounds):
        shift = i % len(routes)
        for name, url in routes[shift:] + routes[:shift]:
            emit({"event": "start", "route": name, "round": i})
            cpu = time.process_time()
            elapsed, received = download(made[name], url)
            cpu = time.process_time() - cpu
            emit({"event": "end", "route": name, "round": i, "seconds": elapsed, "bytes": received, "cpu_s": cpu})
            seconds[name].append(elapsed)
            sizes.add(received)
    if len(sizes) != 1:
        raise SystemExit(f"the routes delivered different sizes: {sorted(sizes)}")
    (size,) = sizes
    mb = size / 1e6
    return {
        "bytes": size,
        "rounds": rounds,
        **{
            name: {
                "seconds": values,
                "mb_per_s_median": mb / statistics.median(values),
                "mb_per_s_best": mb / min(values),
            }
            for name, values in seconds.items()
        },
    }


def run_latency(made: dict[str, requests.Session], routes: list[tuple[str, str]], requests_: int, warmup: int) -> dict:
    orders = list(itertools.permutations(routes))
    times: dict[str, list[float]] = {name: [] for name, _ in routes}
    for i in range(warmup + requests_):
        for name, url in orders[i % len(orders)]:
            started = time.perf_counter()
            answer = made[name].get(url, timeout=30)
            body = answer.content
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"{name} answered {answer.status_code}: {body[:300]!r}")
            if json.loads(body)["bearer"] != (name == "egress"):
                raise SystemExit(f"{name}: the API saw a bearer token: {json.loads(body)['bearer']}")
            if i >= warmup:
                times[name].append(elapsed)
    return {
        name: {
            "p50_ms": statistics.median(values),
            "p90_ms": statistics.quantiles(values, n=10)[-1],
            "requests": len(values),
        }
        for name, values in times.items()
    }


def main() -> None:
    server_url, token, provider, mode = sys.argv[1:5]
    server = ServerInfo(url=server_url, token=token)
    if mode == "download":
        rounds, specs = int(sys.argv[5]), sys.argv[6:]
    elif mode == "latency":
        count, warmup, specs = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7:]
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    routes = [tuple(spec.split("=", 1)) for spec in specs]
    made = sessions(server, provider, [name for name, _ in routes])
    if mode == "download":
        emit({"summary": run_download(made, routes, rounds)})
    else:
        emit({"summary": run_latency(made, routes, count, warmup)})


if __name__ == "__main__":
    main()
