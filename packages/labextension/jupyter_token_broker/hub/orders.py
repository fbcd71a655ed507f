"""Durable revocation orders and the queue of IdP revocations to retry, kept in the user's encrypted auth_state
(the hub database), so they survive hub restarts and need no volume of their own on Kubernetes.

An order names the user's servers that must apply it (those stopped, or that failed the revocation, when it was
made); each acknowledges it once applied, and it is dropped when all have. Pure functions: the callers hold the
user's lock around read-modify-save.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from .audit import now_iso

#: The auth_state key of the durable orders.
ORDERS_KEY = "token_broker_orders"
#: The auth_state key of the IdP revocations still to be sent (each holds a refresh token: encrypted at rest).
RETRY_KEY = "token_broker_idp_retry"
#: What a new login or a refresh must carry over from the previous auth_state.
KEPT_KEYS = (ORDERS_KEY, RETRY_KEY)


def carry_over(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the orders and the retry queue of ``old`` (a login or a refresh builds auth_state afresh)."""
    for key in KEPT_KEYS:
        if old and old.get(key) and not new.get(key):
            new[key] = old[key]
    return new


def new_order(provider: str | None, reason: str, servers: list[str]) -> dict[str, Any]:
    """An order for ``servers`` (server names, ``""`` for the default one)."""
    return {
        "id": secrets.token_hex(8),
        "provider": provider,
        "reason": reason,
        "created_at": now_iso(),
        "servers": sorted(set(servers)),
        "acked": [],
    }


def orders_of(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    orders = (state or {}).get(ORDERS_KEY)
    return [o for o in orders if isinstance(o, dict)] if isinstance(orders, list) else []


def pending_for(state: dict[str, Any] | None, server: str | None) -> list[dict[str, Any]]:
    """The orders still to apply, by ``server`` when given; as servers see them."""
    return [
        public(order)
        for order in orders_of(state)
        if server is None or (server in order.get("servers", []) and server not in order.get("acked", []))
    ]


def public(order: dict[str, Any]) -> dict[str, Any]:
    return {key: order.get(key) for key in ("id", "provider", "reason", "created_at")}


def acknowledge(state: dict[str, Any], order_id: str, server: str) -> tuple[bool, bool]:
    """Records that ``server`` applied ``order_id`` in ``state``: ``(found, dropped)`` (dropped once every server
    named in the order has acknowledged it, or when the order named no server)."""
    orders = orders_of(state)
    for order in orders:
        if order.get("id") != order_id:
            continue
        acked = set(order.get("acked", [])) | {server}
        order["acked"] = sorted(acked)
        if set(order.get("servers", [])) <= acked:
            orders.remove(order)
            state[ORDERS_KEY] = orders
            return True, True
        state[ORDERS_KEY] = orders
        return True, False
    return False, False


def add_order(state: dict[str, Any], order: dict[str, Any]) -> None:
    state[ORDERS_KEY] = [*orders_of(state), order]


def queue_retry(state: dict[str, Any], refresh_token: str, actor: str | None, reason: str) -> None:
    """Queues an IdP revocation of ``refresh_token`` (kept encrypted in auth_state until sent)."""
    queue = retries_of(state)
    queue.append({"refresh_token": refresh_token, "queued_at": time.time(), "actor": actor, "reason": reason})
    state[RETRY_KEY] = queue


def retries_of(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    queue = (state or {}).get(RETRY_KEY)
    return [r for r in queue if isinstance(r, dict) and r.get("refresh_token")] if isinstance(queue, list) else []
