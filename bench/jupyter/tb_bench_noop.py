"""A no-op Jupyter server extension for the benchmark: the yardstick of the broker's token route.

``POST {base_url}tb-bench/api/v1/providers/{id}/token`` is authenticated and XSRF-checked like the broker's own
route (``APIHandler``), reads the JSON body, and answers a fixed JSON body of the same size as the broker's token
answer (read once from the file named by ``TB_BENCH_NOOP_BODY_FILE``), with the same ``Cache-Control``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web


@functools.cache
def _answer() -> bytes:
    return Path(os.environ["TB_BENCH_NOOP_BODY_FILE"]).read_bytes()


class NoopTokenHandler(APIHandler):
    @web.authenticated
    async def post(self, _provider: str) -> None:
        json.loads(self.request.body or b"{}")
        self.set_header("Cache-Control", "no-store")
        self.finish(_answer(), set_content_type="application/json")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "tb_bench_noop"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.base_url, "tb-bench/api/v1/providers/([^/]+)/token")
    serverapp.web_app.add_handlers(".*$", [(route, NoopTokenHandler)])
