"""The benchmark's Jupyter server extension: the yardsticks of the broker's token route.

``POST {base_url}tb-bench/api/v1/providers/{id}/token`` is authenticated and XSRF-checked like the broker's own
route (``APIHandler``), reads the JSON body, and answers a fixed JSON body of the same size as the broker's token
answer (read once from the file named by ``TB_BENCH_NOOP_BODY_FILE``), with the same ``Cache-Control``.

``POST {base_url}tb-bench/floor/api/v1/(.*)`` (registered when ``TB_BENCH_FLOOR_SOCKET`` is set) is the floor of
the architecture: the extension's real forwarding code (``BrokerProxyHandler`` and ``BrokerClient``) talking over
a unix socket to ``floor-server.mjs``, a bare ``node:http`` server answering that same body. What the broker's
route costs above it is the broker's own work; no broker behind a socket can go below it.

``{base_url}tb-bench/tornado/api/v1/(.*)`` is the broker's own route with one thing changed: the client that talks
to the broker is tornado's ``SimpleAsyncHTTPClient`` over the broker's socket, nothing around it, as
jupyter-server-proxy reaches a process on a unix socket (a resolver that answers every host with the socket). Timed
beside the broker's route, it says what the extension's own client (``upstream.py``) buys over the library's.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import HTTPRequest
from tornado.netutil import Resolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from jupyter_token_broker.handlers import BrokerProxyHandler
from jupyter_token_broker.identity import owner_name
from jupyter_token_broker.owner import decide_owner
from jupyter_token_broker.rundir import KEY_BYTES
from jupyter_token_broker.upstream import BrokerClient

FLOOR_PREFIX = "tb-bench/floor/api/v1/"
"""The floor route under the server's base URL; what follows it is forwarded as the broker's path."""

TORNADO_PREFIX = "tb-bench/tornado/api/v1/"
"""The broker's route forwarded by tornado's client, under the server's base URL."""


@functools.cache
def _answer() -> bytes:
    return Path(os.environ["TB_BENCH_NOOP_BODY_FILE"]).read_bytes()


class NoopTokenHandler(APIHandler):
    @web.authenticated
    async def post(self, _provider: str) -> None:
        json.loads(self.request.body or b"{}")
        self.set_header("Cache-Control", "no-store")
        self.finish(_answer(), set_content_type="application/json")


class FloorProxyHandler(BrokerProxyHandler):
    """The broker's proxy handler as it ships, reached under :data:`FLOOR_PREFIX` instead of its own prefix."""

    prefix = FLOOR_PREFIX

    def broker_path(self) -> str:
        prefix = url_path_join(self.base_url, self.prefix)
        raw = self.request.path
        return raw[len(prefix) :] if raw.startswith(prefix) else ""


class TornadoProxyHandler(FloorProxyHandler):
    """The broker's proxy handler as it ships, forwarding with :class:`TornadoClient`."""

    prefix = TORNADO_PREFIX


class _SocketResolver(Resolver):
    """Resolves every host to one unix socket (jupyter-server-proxy's way into a process on a socket)."""

    def initialize(self, socket_path: str) -> None:
        self.socket_path = socket_path

    async def resolve(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list:
        return [(socket.AF_UNIX, self.socket_path)]


class TornadoClient:
    """tornado's ``SimpleAsyncHTTPClient`` on the broker's socket, with the request interface of ``BrokerClient``.

    Nothing of ``upstream.py`` around it (no checks, no limits): the yardstick is the library as it comes. It is
    made on the first request, inside the server's running event loop.
    """

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._http: SimpleAsyncHTTPClient | None = None

    async def request(
        self, method: str, path_and_query: str, headers: Mapping[str, str], body: bytes | None
    ) -> SimpleNamespace:
        if self._http is None:
            resolver = _SocketResolver(socket_path=self.socket_path)
            self._http = SimpleAsyncHTTPClient(force_instance=True, resolver=resolver)
        request = HTTPRequest(
            f"http://token-broker{path_and_query}",
            method=method,
            headers=dict(headers),
            body=body,
            follow_redirects=False,
            decompress_response=False,
        )
        response = await self._http.fetch(request, raise_error=False)
        return SimpleNamespace(
            status=response.code, reason=response.reason, headers=response.headers, body=response.body or b""
        )


@contextlib.asynccontextmanager
async def _always_ready(*, use: bool = True) -> AsyncIterator[bool]:
    """The supervisor's gate for the floor: its process is started by the benchmark and never stops for idleness."""
    yield True


async def _no_resting_list() -> None:
    """The floor process always runs: no provider list is answered in its stead."""
    return None


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tb_bench_noop"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.base_url, "tb-bench/api/v1/providers/([^/]+)/token")
    handlers: list[tuple] = [(route, NoopTokenHandler)]
    socket = os.environ.get("TB_BENCH_FLOOR_SOCKET")
    if socket:
        # What BrokerProxyHandler reads of the supervisor: the floor process is started by the benchmark and
        # ready before this server; it checks no key, but one of the broker's size goes into every request.
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
            # As the extension makes its own; its idle connections close with the server (a module-style
            # extension has no stop hook).
            "client": BrokerClient(socket),
            # As the extension passes them: outside JupyterHub, with Jupyter's own login, every authenticated user
            # is the owner (owner.py).
            "owner": owner_name(),
            "admitted": decide_owner(None, serverapp.identity_provider),
            "redirect_uri": None,
        }
        handlers.append((url_path_join(serverapp.base_url, f"{FLOOR_PREFIX}(.*)"), FloorProxyHandler, options))
    # The token broker's own app: extensions load in alphabetical order, so it is set up by now.
    (broker,) = serverapp.extension_manager.extension_apps["jupyter_token_broker"]
    options = {
        "supervisor": broker.supervisor,
        "client": TornadoClient(broker.supervisor.socket),
        "owner": owner_name(),
        "admitted": broker.owner,
        "redirect_uri": None,
    }
    handlers.append((url_path_join(serverapp.base_url, f"{TORNADO_PREFIX}(.*)"), TornadoProxyHandler, options))
    serverapp.web_app.add_handlers(".*$", handlers)
