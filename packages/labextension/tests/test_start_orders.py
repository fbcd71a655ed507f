"""The hub's revocation orders are applied when a server starts, before its broker serves anything.

A real jupyter-server with the extension and the real broker bundle, under the small stand-in hub of
``test_hub_provider`` (the orders route as the hub contract has it). The real hub, with a grant revoked at a real IdP,
is ``tests/hub/test_orders_stopped_server.py``; here: the server fails closed while the hub cannot be read, then
applies every order through the broker as an admin revocation and acknowledges each for this server.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_hub_provider import ALICE, FakeHub, start_hub_server
from test_hub_provider import fake_hub as fake_hub  # noqa: PLC0414 - the fixture, used by name

from jupyter_token_broker.orders import Order, OrdersUnavailable, broker_reason, parse_orders

from jupyter_process import wait_until

DEMO = {
    "id": "demo",
    "title": "Demo IdP",
    "kind": "oidc",
    # Nobody listens there: nothing is signed in, so nothing is revoked upstream.
    "issuer": "http://127.0.0.1:9/",
    "client_id": "jupyter-demo",
    "scopes": ["openid"],
}


@pytest.fixture(autouse=True)
def _fresh_hub(fake_hub: FakeHub) -> Iterator[None]:
    fake_hub.reset()
    yield
    fake_hub.reset()


def test_the_orders_answer_is_read_strictly() -> None:
    assert parse_orders({"orders": []}) == []
    assert parse_orders(
        {"orders": [{"id": "o1", "provider": None, "reason": "leak", "created_at": "2026-11-30T00:00:00Z"}]}
    ) == [Order("o1", None, "leak")]
    for malformed in (
        None,
        {},
        {"orders": {}},
        {"orders": [1]},
        {"orders": [{"provider": None}]},
        {"orders": [{"id": "o", "provider": 3}]},
    ):
        with pytest.raises(OrdersUnavailable):
            parse_orders(malformed)


def test_the_broker_records_the_order_and_a_one_line_reason() -> None:
    assert broker_reason(Order("o1", None, "notebook\nleaked\x00")) == "hub order o1: notebook leaked"
    assert broker_reason(Order("o2", "demo", "  ")) == "hub order o2: no reason given"
    assert len(broker_reason(Order("o3", None, "x" * 900))) == 500


def test_a_server_serves_nothing_until_the_hubs_orders_are_applied(tmp_path: Path, fake_hub: FakeHub) -> None:
    fake_hub.orders_status = 503
    fake_hub.orders = [
        {"id": "order-1", "provider": None, "reason": "notebook\nleaked", "created_at": "2026-11-30T00:00:00Z"},
        {"id": "order-2", "provider": "github", "reason": "not configured here", "created_at": "2026-11-30T00:00:01Z"},
    ]
    # The stand-in hub knows the sharing routes of the default server only: this named server does not ask them.
    server = start_hub_server(
        tmp_path, fake_hub, "c.TokenBroker.refuse_while_shared = False\n", providers=[DEMO], server_name="lab"
    )
    try:
        with server.token_client(ALICE) as client:
            listed = wait_until(
                lambda: (
                    (r := client.get(server.api("providers"))).status_code == 503
                    and "revocation orders" in r.json()["error_description"]
                    and r
                ),
                30,
                what="the refusal while the hub's orders cannot be read",
            )
            token = client.post(server.api("providers/hub/token"), json={})
            assert "revocation orders" in token.json()["error_description"]
        # Fail closed, with a reason and a time to come back; the hub login's token was never even asked for.
        assert listed.json()["error"] == "upstream_unavailable"
        assert "JupyterHub answered 503" in listed.json()["error_description"]
        assert listed.headers["Retry-After"] == "2"
        assert token.status_code == 503
        assert token.json()["error"] == "upstream_unavailable"
        assert fake_hub.issued == []
        assert fake_hub.acks == []

        fake_hub.orders_status = 200

        def serving() -> bool:
            with server.token_client(ALICE) as client:
                return client.get(server.api("providers")).status_code == 200

        wait_until(serving, 30, what="the orders applied")
        # Each order acknowledged for this server by name, in order; the orders were read for this server only.
        assert fake_hub.acks == [("order-1", "lab"), ("order-2", "lab")]
        reads = [path for path, _ in fake_hub.calls if path.startswith("/hub/api/token-broker/v1/users/alice/orders")]
        assert reads
        assert all(path.endswith("/orders?server=lab") for path in reads)
        with server.token_client(ALICE) as client:
            events = client.get(server.api("events")).json()["events"]
            assert client.post(server.api("providers/hub/token"), json={}).status_code == 200
        # The broker recorded the admin revocation of the order, with its id and the reason on one line.
        revoke = next(e for e in events if e["type"] == "revoke" and e.get("client") == "jupyterhub-order")
        assert revoke["reason"] == "admin: hub order order-1: notebook leaked (force): 0 revoked, 0 failed"
        assert "applied JupyterHub's revocation order order-1 (every provider): nothing was held" in server.log_text()
        # Read once per attempt, and never again once applied: not even by a broker restarted after a crash (running
        # servers get later revocations from the hub directly).
        reads_then = len(reads)
        (broker_pid,) = server.broker_pids()
        os.kill(broker_pid, signal.SIGKILL)
        wait_until(lambda: server.broker_pids() not in ([], [broker_pid]), 30, what="the broker restarted")
        wait_until(serving, 30, what="the restarted broker serving")
        assert len([p for p, _ in fake_hub.calls if "/orders" in p and not p.startswith("DELETE")]) == reads_then
    finally:
        server.stop()
