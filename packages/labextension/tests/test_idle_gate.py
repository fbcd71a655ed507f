"""The supervisor's gate: no request reaches a broker that is being stopped for idleness (the real bundle).

Requests arrive in bursts separated by pauses around the idle time, so some arrive while an idle stop is under way:
each must wait for it and start the broker again, never meet a broker that is going away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
from pathlib import Path

from test_upstream_broker import CONFIG  # one provider whose issuer the routes used never contact

from jupyter_token_broker.config import BUNDLED_BROKER
from jupyter_token_broker.identity import trusted_headers
from jupyter_token_broker.idle import IdleQueries
from jupyter_token_broker.supervisor import BrokerSupervisor
from jupyter_token_broker.upstream import BrokerClient, BrokerUnavailable

IDLE_SECONDS = 0.3


def test_requests_arriving_during_an_idle_stop_wait_for_it_and_start_the_broker_again(tmp_path: Path) -> None:
    outcomes: list[str] = []

    async def main() -> BrokerSupervisor:
        supervisor = BrokerSupervisor(
            config=CONFIG,
            node_executable=shutil.which("node") or "node",
            broker_script=str(BUNDLED_BROKER),
            startup_timeout=30,
            log=logging.getLogger("test_idle_gate"),
            base_dir=tmp_path,
            idle_exit_seconds=IDLE_SECONDS,
        )
        supervisor.check()
        client = BrokerClient(supervisor.socket)
        supervisor.idle_queries = IdleQueries(client, key=supervisor.key, owner="alice")
        headers = trusted_headers(key=supervisor.key, user="alice", client="test")

        async def one_request() -> None:
            async with supervisor.using() as ready:
                if not ready:
                    outcomes.append("not ready")
                    return
                try:
                    answer = await client.request("GET", "/api/v1/consents", headers, None)
                except BrokerUnavailable as err:
                    outcomes.append(f"unavailable: {err}")
                    return
                outcomes.append(str(answer.status))

        rng = random.Random(12)  # noqa: S311 - pauses, not secrets
        try:
            for _ in range(14):
                await asyncio.gather(*(one_request() for _ in range(rng.randint(1, 4))))
                # Around the idle time, then the stop's own duration: some bursts meet a stop under way.
                await asyncio.sleep(IDLE_SECONDS + rng.uniform(0.0, 0.35))
        finally:
            await client.close()
            await supervisor.stop()
        return supervisor

    supervisor = asyncio.run(main())
    assert outcomes
    assert set(outcomes) == {"200"}, outcomes
    assert supervisor.idle_stops >= 3
