"""The benchmark's floor of the egress: a bare tornado streaming proxy in the same Jupyter server, no broker.

``GET {base_url}tb-bench/egress-floor/{path}`` is authenticated like the egress route (``JupyterHandler``,
``Authorization: token …``) and streams ``GET {TB_BENCH_EGRESS_UPSTREAM}{path}`` straight to the caller with
tornado's ``SimpleAsyncHTTPClient`` over TCP: ``header_callback`` for the head, a ``streaming_callback`` that returns
the handler's ``flush()`` (tornado awaits it before it reads more: the same flow control as the egress route). No
unix socket, no second process, no checks. What the Python server moves per second this way is the ceiling of any
egress that passes through the Jupyter server; the egress route's throughput is to be read against it.

``{base_url}tb-bench/egress-pipe/api/v1/egress/...`` (registered when ``TB_BENCH_EGRESS_PIPE_SOCKET`` is set) is
the extension's real egress route (``EgressProxyHandler`` and ``EgressClient``, as they ship) in front of
``egress-pipe-server.mjs`` instead of the broker: a bare ``node:http`` process on a unix socket that pipes the
upstream's answer back and does nothing else. What the broker's egress costs above it is the broker's own work.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import HTTPRequest
from tornado.httputil import HTTPHeaders, parse_response_start_line
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from jupyter_token_broker.egress_client import EgressClient, EgressLimits
from jupyter_token_broker.egress_proxy import EgressProxyHandler
from jupyter_token_broker.identity import owner_name
from jupyter_token_broker.owner import decide_owner
from jupyter_token_broker.rundir import KEY_BYTES
from jupyter_token_broker.upstream import BrokerClient

FLOOR_PREFIX = "tb-bench/egress-floor/"
"""The floor route under the server's base URL; what follows it is the upstream's path."""

PIPE_PREFIX = "tb-bench/egress-pipe/api/v1/"
"""The egress route in front of the bare node pipe, under the server's base URL (``egress/...`` follows it)."""

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


class PipeEgressHandler(EgressProxyHandler):
    """The egress route as it ships, reached under :data:`PIPE_PREFIX` and talking to the node pipe's socket."""

    def broker_path(self) -> str:
        prefix = url_path_join(self.base_url, PIPE_PREFIX)
        raw = self.request.path
        return raw[len(prefix) :] if raw.startswith(prefix) else ""


@contextlib.asynccontextmanager
async def _always_ready(*, use: bool = True) -> AsyncIterator[bool]:
    """The supervisor's gate for the pipe: its process is started by the benchmark and never stops for idleness."""
    yield True


async def _no_resting_list() -> None:
    return None


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tb_bench_egress"}]


def _load_jupyter_server_extension(serverapp) -> None:
    handlers: list[tuple] = [(url_path_join(serverapp.base_url, f"{FLOOR_PREFIX}(.*)"), EgressFloorHandler)]
    socket = os.environ.get("TB_BENCH_EGRESS_PIPE_SOCKET")
    if socket:
        # What the egress route reads of the supervisor (as tb_bench_noop.py's floor): the pipe checks no key, but
        # one of the broker's size goes into every request.
        supervisor = SimpleNamespace(
            ready=True,
            key=secrets.token_urlsafe(KEY_BYTES),
            start_failure=None,
            config_error=None,
            held=None,
            using=_always_ready,
            resting_list=_no_resting_list,
        )
        options = {
            "supervisor": supervisor,
            "client": BrokerClient(socket),
            "owner": owner_name(),
            "admitted": decide_owner(None, serverapp.identity_provider),
            "redirect_uri": None,
            "share_check": None,
            # The broker's default limits, as the extension passes them when c.TokenBroker sets none.
            "egress": EgressClient(socket, EgressLimits.from_config(object())),
        }
        handlers.append((url_path_join(serverapp.base_url, f"{PIPE_PREFIX}(.*)"), PipeEgressHandler, options))
    serverapp.web_app.add_handlers(".*$", handlers)
