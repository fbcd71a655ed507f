"""Owner only, also in kernels: while this server is shared through JupyterHub, no token leaves the broker.

A visitor with JupyterHub sharing access reaches every handler of the owner's server, kernels included, and the
kernels run as the owner with the owner's server token; the owner check of the broker routes cannot tell the
visitor's code from the owner's. So while the server has an active share or share code, token requests are refused
(``c.TokenBroker.refuse_while_shared``, on by default). The hub is asked with the server's own token, which holds
``read:shares!server`` under a hub that runs ``jupyter_token_broker.hub.configure()``:
``GET {api}/shares/{user}/{server}`` and ``GET {api}/share-codes/{user}/{server}`` (JupyterHub >= 5; both answer
``{"items": [...], "_pagination": {...}}`` with expired items left out). The answer is reused for a few seconds;
when the hub cannot be asked, token requests are refused too (fail closed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .hub_env import HubEnvironment

MAX_PAGES = 20
"""Pages of shares read before giving up (and refusing): a server is not shared with thousands."""

PAGE_LIMIT = 200
"""Items asked per page (JupyterHub's default ``api_page_max_limit``)."""

FAILURE_REUSE_SECONDS = 1.0
"""How long a failed check is reused, so a burst of requests does not hammer a hub that is down."""

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Refusal:
    """Why a token request is refused: an error answer in the broker's shape."""

    status: int
    code: str
    description: str
    retry_after: int | None = None


@dataclass(frozen=True)
class HubAnswer:
    """An HTTP answer of the hub: status and parsed JSON body (None when it is not JSON)."""

    status: int
    body: object


Fetch = Callable[[str], Awaitable[HubAnswer]]
"""Sends ``GET url`` to the hub with the server's token; the seam tests can replace."""


class ShareCheckFailed(Exception):
    """The hub could not say whether the server is shared; the message says why (never a token)."""


def describe_sharing(shares: int, codes: int) -> str:
    """The refusal text of a shared server."""
    parts = []
    if shares:
        parts.append(f"{shares} share{'s' if shares != 1 else ''}")
    if codes:
        parts.append(f"{codes} share code{'s' if codes != 1 else ''}")
    return (
        f"This server is shared through JupyterHub ({' and '.join(parts)}): while others can run code in it, "
        "its token broker hands out no tokens. Stop sharing it (revoke the shares and share codes on the hub's "
        "sharing page or through its API) and ask again; a hub admin can allow it with "
        "c.TokenBroker.refuse_while_shared = False."
    )


class ShareCheck:
    """Asks the hub whether this server is shared, reusing the answer for ``ttl`` seconds; one question at a time."""

    def __init__(
        self,
        hub: HubEnvironment,
        *,
        ttl: float,
        log: logging.Logger,
        timeout: float = 10.0,
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = hub
        self._ttl = ttl
        self._log = log
        self._timeout = timeout
        self._fetch = fetch or self._tornado_fetch
        self._clock = clock
        self._cached: tuple[float, Refusal | None] | None = None
        self._running: asyncio.Future[Refusal | None] | None = None

    async def refusal(self) -> Refusal | None:
        """None when tokens may be handed out; else why not (the server is shared, or the hub cannot say)."""
        cached = self._cached
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._ask())
            self._running.add_done_callback(lambda _: setattr(self, "_running", None))
        return await asyncio.shield(self._running)

    async def _ask(self) -> Refusal | None:
        try:
            shares, codes = await asyncio.gather(self._count("shares"), self._count("share-codes"))
        except ShareCheckFailed as err:
            self._log.warning("token-broker: cannot ask JupyterHub whether this server is shared: %s", err)
            refusal = Refusal(
                503,
                "upstream_unavailable",
                f"Could not ask JupyterHub whether this server is shared ({err}); tokens are refused until it answers.",
                RETRY_AFTER_SECONDS,
            )
            self._cached = (self._clock() + min(self._ttl, FAILURE_REUSE_SECONDS), refusal)
            return refusal
        refusal = None
        if shares or codes:
            refusal = Refusal(403, "forbidden", describe_sharing(shares, codes))
        self._cached = (self._clock() + self._ttl, refusal)
        return refusal

    async def _count(self, collection: str) -> int:
        """Active items of ``/shares/{user}/{server}`` or ``/share-codes/{user}/{server}``, across pages."""
        base = self._hub.url(collection, self._hub.user, self._hub.server_name)
        offset = 0
        for _ in range(MAX_PAGES):
            answer = await self._fetch(f"{base}?offset={offset}&limit={PAGE_LIMIT}")
            if answer.status == 403:
                raise ShareCheckFailed(
                    "JupyterHub answered 403: the server's token lacks read:shares!server; the hub must run "
                    "jupyter_token_broker.hub.configure(), or an admin accepts the risk of a shared server with "
                    "c.TokenBroker.refuse_while_shared = False"
                )
            if answer.status != 200:
                raise ShareCheckFailed(f"JupyterHub answered {answer.status} for {collection}")
            body = answer.body
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ShareCheckFailed(f"JupyterHub's {collection} answer has no item list")
            if items:
                return len(items)
            following = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
            if not isinstance(following, dict) or not isinstance(following.get("offset"), int):
                return 0
            # Expired items are left out of a page but counted: look further.
            offset = following["offset"]
        raise ShareCheckFailed(f"JupyterHub's {collection} list has more than {MAX_PAGES} pages")

    async def _tornado_fetch(self, url: str) -> HubAnswer:
        request = HTTPRequest(
            url,
            method="GET",
            headers={
                "Authorization": f"token {self._hub.api_token}",
                "Accept": "application/jupyterhub-pagination+json",
            },
            follow_redirects=False,
            request_timeout=self._timeout,
            connect_timeout=self._timeout,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except Exception as err:  # any transport failure means "cannot say"
            raise ShareCheckFailed(f"JupyterHub is unreachable ({type(err).__name__})") from err
        if response.code == 599:
            raise ShareCheckFailed("JupyterHub did not answer in time" if response.error else "no answer")
        try:
            body = json.loads(response.body or b"null")
        except ValueError:
            body = None
        return HubAnswer(response.code, body)
