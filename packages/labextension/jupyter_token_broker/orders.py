"""The hub's durable revocation orders, applied when the server starts, before its broker serves anything.

An admin who revokes a user at the hub reaches the user's running servers directly; a stopped server with a file or
keychain store would still hold the grants when it starts again. So the hub also keeps an order for the user, and a
server that starts under a hub running ``jupyter_token_broker.hub.configure()`` (``JUPYTER_TOKEN_BROKER_HUB`` set):

1. reads ``GET {JUPYTERHUB_API_URL}/token-broker/v1/users/{user}/orders?server={JUPYTERHUB_SERVER_NAME}`` with its
   own server token: ``{orders: [{id, provider, reason, created_at}]}``, the orders this server has not applied yet
   (an order it applied stays at the hub until the user's other servers have applied it too, and must not end a
   sign-in made since);
2. has its broker apply each one as an admin revocation, ``POST /api/v1/admin/revoke {provider?, reason, force}``
   with ``X-Broker-Caller: admin``: the refresh token is revoked at the IdP (RFC 7009) and the grant forgotten;
3. acknowledges it, ``DELETE …/orders/{id}?server={JUPYTERHUB_SERVER_NAME}`` (the hub drops an order once every
   server of the user has done so, and records ``order_applied`` in its audit trail).

The supervisor runs this between the broker's ready line and the first forwarded request
(:attr:`~jupyter_token_broker.supervisor.BrokerSupervisor.before_serving`); until it has succeeded the routes answer
503 ``upstream_unavailable`` with Retry-After (fail closed: a hub that cannot be read may hold an order).

The order is applied with ``force``: the admin decided at the hub, and nobody here could decide otherwise. An IdP
that cannot be reached does not keep a revoked grant alive: the broker forgets it and retries the IdP's revocation
from its own queue. Applying an order twice is harmless (nothing is left to revoke), so an order whose
acknowledgement failed is simply applied again at the next attempt.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .contract import PROVIDER_ID
from .hub_env import HubEnvironment
from .identity import trusted_headers
from .sharing import HubAnswer
from .supervisor import NotServingYet
from .upstream import BrokerClient, BrokerUnavailable

ORDER_CLIENT = "jupyterhub-order"
"""The client label of an applied order in the broker's audit trail."""

HUB_TIMEOUT_SECONDS = 10.0
"""Deadline of each call to the hub."""

MAX_REASON = 500
"""The broker's longest admin reason."""

MAX_ORDERS = 1000
"""More orders than this in one answer is not what the hub sends: refused rather than applied for minutes."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

HubCall = Callable[[str, str], Awaitable[HubAnswer]]
"""Sends ``METHOD url`` to the hub with the server's token; the seam tests can replace."""


class OrdersUnavailable(NotServingYet):
    """The orders could not be read, applied or acknowledged; the message says why (never a token)."""


@dataclass(frozen=True)
class Order:
    """One revocation order of the hub. ``provider`` None: every provider."""

    id: str
    provider: str | None
    reason: str


def parse_orders(body: object) -> list[Order]:
    """The orders of the hub's answer ``{orders: [{id, provider, reason, created_at}]}``.

    :raises OrdersUnavailable: when the answer is not that shape (applying a guess could miss an order).
    """
    items = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_ORDERS:
        raise OrdersUnavailable("JupyterHub's orders answer has no order list")
    orders = []
    for item in items:
        if not isinstance(item, dict):
            raise OrdersUnavailable("JupyterHub's orders answer holds something that is not an order")
        order_id, provider, reason = item.get("id"), item.get("provider"), item.get("reason")
        if not (isinstance(order_id, str) and order_id) or not (provider is None or isinstance(provider, str)):
            raise OrdersUnavailable("JupyterHub's orders answer holds an order without an id or a provider")
        orders.append(Order(order_id, provider, reason if isinstance(reason, str) else ""))
    return orders


def broker_reason(order: Order) -> str:
    """The reason the broker records: the order's id and the admin's reason, on one line of at most 500 chars."""
    reason = _CONTROL.sub(" ", order.reason).strip() or "no reason given"
    return f"hub order {order.id}: {reason}"[:MAX_REASON]


class StartOrders:
    """Reads this server's orders from the hub, has the broker apply them, acknowledges them (see the module)."""

    def __init__(
        self,
        hub: HubEnvironment,
        broker: BrokerClient,
        *,
        key: str,
        owner: str,
        log: logging.Logger,
        hub_call: HubCall | None = None,
        timeout: float = HUB_TIMEOUT_SECONDS,
    ) -> None:
        self._hub = hub
        self._broker = broker
        self._key = key
        self._owner = owner
        self._log = log
        self._hub_call = hub_call or self._tornado_call
        self._timeout = timeout

    def orders_url(self, *more: str) -> str:
        """``{api_url}/token-broker/v1/users/{user}/orders[/…]?server={server name}``."""
        url = self._hub.url("token-broker", "v1", "users", self._hub.user, "orders", *more)
        return f"{url}?server={quote(self._hub.server_name, safe='')}"

    async def __call__(self) -> None:
        """Applies every order the hub holds for this server's user.

        :raises OrdersUnavailable: when the hub or the broker failed; nothing that was not applied is acknowledged.
        """
        orders = await self.read()
        for order in orders:
            revoked = await self.apply(order)
            await self.acknowledge(order)
            self._log.info(
                "token-broker: applied JupyterHub's revocation order %s (%s): %s",
                order.id,
                f"provider {order.provider!r}" if order.provider is not None else "every provider",
                ", ".join(revoked) + " revoked" if revoked else "nothing was held",
            )

    async def read(self) -> list[Order]:
        """The hub's orders for this server's user."""
        answer = await self._hub_call("GET", self.orders_url())
        if answer.status == 403:
            raise OrdersUnavailable(
                "JupyterHub refused to give this server its revocation orders (403): the server's token needs "
                "custom:token-broker:token!user, which jupyter_token_broker.hub.configure() gives it"
            )
        if answer.status == 404 and not _is_error_answer(answer.body):
            raise OrdersUnavailable(
                "JupyterHub has no revocation orders route (404): the hub runs an older jupyter_token_broker than "
                "this server; update the hub's"
            )
        if answer.status != 200:
            raise OrdersUnavailable(f"JupyterHub answered {answer.status} for this server's revocation orders")
        return parse_orders(answer.body)

    async def apply(self, order: Order) -> list[str]:
        """Has the broker revoke what the order names; returns the providers whose grant ended."""
        if order.provider is not None and not PROVIDER_ID.match(order.provider):
            return []  # no provider of this server can have that id: nothing to revoke here
        body: dict[str, object] = {"reason": broker_reason(order), "force": True}
        if order.provider is not None:
            body["provider"] = order.provider
        headers = {"Content-Type": "application/json"}
        headers.update(trusted_headers(key=self._key, user=self._owner, client=ORDER_CLIENT, caller="admin"))
        try:
            response = await self._broker.request("POST", "/api/v1/admin/revoke", headers, json.dumps(body).encode())
        except BrokerUnavailable as err:
            raise OrdersUnavailable(f"the broker did not take a revocation order ({err})") from err
        answer = _json(response.body)
        if response.status == 404 and isinstance(answer, dict) and answer.get("error") == "unknown_provider":
            return []  # not configured in this server: nothing to revoke here
        if response.status != 200 or not isinstance(answer, dict):
            code = answer.get("error") if isinstance(answer, dict) else None
            raise OrdersUnavailable(f"the broker answered {response.status} {code or ''} to a revocation order".strip())
        if answer.get("failed"):
            raise OrdersUnavailable("the broker could not end every grant a revocation order names")
        revoked = answer.get("revoked")
        return (
            [str(item.get("provider")) for item in revoked if isinstance(item, dict)]
            if isinstance(revoked, list)
            else []
        )

    async def acknowledge(self, order: Order) -> None:
        """Tells the hub this server applied ``order`` (404: the hub no longer holds it, which is as good)."""
        answer = await self._hub_call("DELETE", self.orders_url(order.id))
        if answer.status not in (200, 204, 404):
            raise OrdersUnavailable(f"JupyterHub answered {answer.status} to an applied revocation order")

    async def _tornado_call(self, method: str, url: str) -> HubAnswer:
        request = HTTPRequest(
            url,
            method=method,
            headers={"Authorization": f"token {self._hub.api_token}", "Accept": "application/json"},
            follow_redirects=False,
            request_timeout=self._timeout,
            connect_timeout=self._timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except Exception as err:  # any transport failure: the hub cannot be read
            raise OrdersUnavailable(f"JupyterHub is unreachable ({type(err).__name__})") from err
        if response.code == 599:
            raise OrdersUnavailable("JupyterHub did not answer in time")
        return HubAnswer(response.code, _json(response.body))


def _is_error_answer(body: object) -> bool:
    """Whether ``body`` is the token-broker routes' ``{error, error_description}`` (not a hub page)."""
    return isinstance(body, dict) and isinstance(body.get("error"), str) and "error_description" in body


def _json(raw: bytes | None) -> object:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
