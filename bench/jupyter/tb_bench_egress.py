"""The benchmark's floor of the egress: a bare tornado streaming proxy in the same Jupyter server, no broker.

``GET {base_url}tb-bench/egress-floor/{path}`` is authenticated like the egress route (``JupyterHandler``,
``Authorization: token …``) and streams ``GET {TB_BENCH_EGRESS_UPSTREAM}{path}`` straight to the caller with
tornado's ``SimpleAsyncHTTPClient`` over TCP: ``header_callback`` for the head, a ``streaming_callback`` that returns
the handler's ``flush()`` (tornado awaits it before it reads more: the same flow control as the egress route). No
unix socket, no second process, no checks. What the Python server moves per second this way is the ceiling of any
egress that passes through the Jupyter server; the egress route's throughput is to be read against it.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import HTTPRequest
from tornado.httputil import HTTPHeaders, parse_response_start_line
from tornado.simple_httpclient import SimpleAsyncHTTPClient

FLOOR_PREFIX = "tb-bench/egress-floor/"
"""The floor route under the server's base URL; what follows it is the upstream's path."""

RELAYED = ("Content-Type", "Content-Length")
"""The upstream's fields the floor relays (enough for the client to read the body as it reads the egress's)."""


class EgressFloorHandler(JupyterHandler):
    """Streams one GET from the benchmark's upstream with tornado's own client, nothing around it."""

    http: SimpleAsyncHTTPClient | None = None

    @web.authenticated
    async def get(self, path: str) -> None:
        if EgressFloorHandler.http is None:
            # As large as the egress route allows by default: the client must not cap the body it streams.
            EgressFloorHandler.http = SimpleAsyncHTTPClient(force_instance=True, max_body_size=4 << 30)
        head: list[str] = []

        def on_header(line: str) -> None:
            head.append(line)
            if line in ("\r\n", "\n"):
                status = parse_response_start_line(head[0].strip())
                fields = HTTPHeaders.parse("".join(head[1:]))
                self.set_status(status.code)
                for name in RELAYED:
                    if name in fields:
                        self.set_header(name, fields[name])

        def on_chunk(chunk: bytes) -> Any:
            self.write(chunk)
            return self.flush()

        request = HTTPRequest(
            f"{os.environ['TB_BENCH_EGRESS_UPSTREAM']}{path}",
            header_callback=on_header,
            streaming_callback=on_chunk,
            follow_redirects=False,
            decompress_response=False,
            request_timeout=300,
        )
        await EgressFloorHandler.http.fetch(request, raise_error=False)
        self.finish()


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tb_bench_egress"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.base_url, f"{FLOOR_PREFIX}(.*)")
    serverapp.web_app.add_handlers(".*$", [(route, EgressFloorHandler)])
