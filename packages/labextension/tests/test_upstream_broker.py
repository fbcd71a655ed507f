"""The broker client (``upstream.py``) against the real broker bundle, started by the real supervisor.

No IdP and no port: the provider's issuer is never contacted by the routes used here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jupyter_token_broker.config import BUNDLED_BROKER
from jupyter_token_broker.identity import trusted_headers
from jupyter_token_broker.supervisor import Backoff, BrokerSupervisor
from jupyter_token_broker.upstream import BrokerClient, BrokerUnavailable

CONFIG = {
    "providers": [
        {
            "id": "demo",
            "title": "Demo",
            "kind": "oidc",
            "issuer": "http://127.0.0.1:9/unused",
            "client_id": "jupyter-demo",
            "scopes": ["openid"],
        }
    ],
    "store": {"type": "memory"},
}


def with_broker(tmp_path: Path, test: Callable[[BrokerSupervisor], Awaitable[None]]) -> None:
    async def main() -> None:
        supervisor = BrokerSupervisor(
            config=CONFIG,
            node_executable=shutil.which("node") or "node",
            broker_script=str(BUNDLED_BROKER),
            startup_timeout=30,
            log=logging.getLogger("test_upstream_broker"),
            backoff=Backoff(base=1.0),
            base_dir=tmp_path,
        )
        await supervisor.start()
        try:
            assert await supervisor.wait_ready(30)
            await test(supervisor)
        finally:
            await supervisor.stop()

    asyncio.run(main())


def headers(supervisor: BrokerSupervisor) -> dict[str, str]:
    return trusted_headers(key=supervisor.key, user="alice", client="test")


async def providers(client: BrokerClient, supervisor: BrokerSupervisor) -> int:
    return (await client.request("GET", "/api/v1/providers", headers(supervisor), None)).status


def broker_sockets(pid: int) -> set[str]:
    """The broker process's open sockets (``socket:[inode]``), once it has settled."""
    fds = Path(f"/proc/{pid}/fd")
    return {target for target in (os.readlink(fd) for fd in fds.iterdir()) if target.startswith("socket:")}


def test_answers_are_relayed_and_no_connection_is_left_open(tmp_path: Path) -> None:
    async def test(supervisor: BrokerSupervisor) -> None:
        client = BrokerClient(supervisor.socket)
        assert supervisor.pid is not None
        before = broker_sockets(supervisor.pid)
        response = await client.request("GET", "/api/v1/providers", headers(supervisor), None)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        assert b'"id":"demo"' in response.body
        for _ in range(20):
            assert await providers(client, supervisor) == 200
        refused = await client.request("GET", "/api/v1/providers", {}, None)  # no key: the broker's own refusal
        assert refused.status in (401, 403)
        assert b'"error"' in refused.body
        await asyncio.sleep(0.2)
        assert broker_sockets(supervisor.pid) == before  # every request's connection is closed after its answer
        await client.close()

    with_broker(tmp_path, test)


def test_restarted_broker_is_unavailable_then_reached_on_a_fresh_connection(tmp_path: Path) -> None:
    async def test(supervisor: BrokerSupervisor) -> None:
        client = BrokerClient(supervisor.socket)
        assert await providers(client, supervisor) == 200  # a kept-alive connection to the old broker
        old = supervisor.pid
        assert old is not None
        os.kill(old, signal.SIGKILL)
        await asyncio.sleep(0.1)  # dead; the supervisor restarts it only after its 1 s backoff
        with pytest.raises(BrokerUnavailable):
            await providers(client, supervisor)
        assert await supervisor.wait_ready(30)
        assert supervisor.pid != old
        assert await providers(client, supervisor) == 200
        await client.close()

    with_broker(tmp_path, test)


def test_stopped_broker_runs_into_the_deadline_then_answers_again(tmp_path: Path) -> None:
    async def test(supervisor: BrokerSupervisor) -> None:
        client = BrokerClient(supervisor.socket, deadline=0.5)
        assert await providers(client, supervisor) == 200
        assert supervisor.pid is not None
        os.kill(supervisor.pid, signal.SIGSTOP)  # a broker that hangs
        try:
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable, match="deadline"):
                await providers(client, supervisor)
            assert time.monotonic() - started < 3
        finally:
            os.kill(supervisor.pid, signal.SIGCONT)
        assert await providers(client, supervisor) == 200
        await client.close()

    with_broker(tmp_path, test)


def test_answer_above_the_size_cap_is_refused(tmp_path: Path) -> None:
    async def test(supervisor: BrokerSupervisor) -> None:
        small = BrokerClient(supervisor.socket, max_response_bytes=64)
        with pytest.raises(BrokerUnavailable, match="too large"):
            await providers(small, supervisor)
        await small.close()
        roomy = BrokerClient(supervisor.socket)
        assert await providers(roomy, supervisor) == 200
        await roomy.close()

    with_broker(tmp_path, test)
