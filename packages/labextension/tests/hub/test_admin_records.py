"""The hub side's records without a hub: the audit trail (0600 file, newest first, kept across a restart) and the
durable orders (dropped only once every server named has applied them; kept by a new login)."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_token_broker.hub.audit import HubAudit
from jupyter_token_broker.hub.orders import (
    ORDERS_KEY,
    RETRY_KEY,
    acknowledge,
    add_order,
    carry_over,
    new_order,
    pending_for,
    queue_retry,
)


def test_audit_trail_is_a_0600_file_read_newest_first_and_refilled_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = HubAudit(str(path), ring_size=3)
    for n in range(4):
        audit.record("revoke", actor="service:admin", user=f"u{n}", provider=None, outcome="ok", reason=f"r{n}")
    assert path.stat().st_mode & 0o777 == 0o600
    assert [e["user"] for e in audit.events()] == ["u3", "u2", "u1"]
    assert [e["user"] for e in audit.events(limit=1)] == ["u3"]
    assert [e["user"] for e in audit.events(user="u2")] == ["u2"]
    assert len(path.read_text().splitlines()) == 4
    assert json.loads(path.read_text().splitlines()[0])["reason"] == "r0"
    again = HubAudit(str(path), ring_size=3)
    assert [e["user"] for e in again.events()] == ["u3", "u2", "u1"]
    assert set(again.events()[0]) == {"time", "actor", "user", "action", "provider", "outcome", "reason"}


def test_an_order_is_dropped_only_when_every_server_named_has_applied_it() -> None:
    state: dict = {}
    order = new_order("demo", "leak", ["", "lab"])
    add_order(state, order)
    assert [o["id"] for o in pending_for(state, "lab")] == [order["id"]]
    assert pending_for(state, "other") == []
    assert acknowledge(state, order["id"], "lab") == (True, False)
    assert pending_for(state, "lab") == []
    assert [o["id"] for o in pending_for(state, "")] == [order["id"]]
    assert acknowledge(state, "nope", "") == (False, False)
    assert acknowledge(state, order["id"], "") == (True, True)
    assert state[ORDERS_KEY] == []
    assert set(pending_for({ORDERS_KEY: [order]}, None)[0]) == {"id", "provider", "reason", "created_at"}


def test_a_new_login_keeps_the_orders_and_the_queued_idp_revocations() -> None:
    old: dict = {"access_token": "old"}
    add_order(old, new_order(None, "leak", [""]))
    queue_retry(old, "refresh-1", "service:admin", "leak")
    new = carry_over(old, {"access_token": "new"})
    assert new["access_token"] == "new"
    assert new[ORDERS_KEY] == old[ORDERS_KEY]
    assert new[RETRY_KEY][0]["refresh_token"] == "refresh-1"
