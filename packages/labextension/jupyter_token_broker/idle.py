"""Leave when idle: when the broker counts as idle, what it says about stopping, and the provider list a stopped
broker leaves behind.

On a hub every user server carries its own broker, so a broker that nobody uses should cost nothing. The supervisor
stops it when, for ``c.TokenBroker.idle_exit_seconds``, no request but the provider list (which the status bar
reads every minute) came and none is in flight, and the broker itself says that stopping would lose nothing
(``GET /api/v1/idle``: a memory store holding a sign-in, a sign-in or device login under way, a queued revocation or
a refresh in flight keep it). Its last provider list is then answered in its place while it is stopped, as long as
the store it was read from cannot have changed: a memory store (emptied by then, or the broker would not have left)
or a file store whose file is unchanged. Any other request starts the broker again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .identity import trusted_headers
from .upstream import BrokerClient, BrokerUnavailable

IDLE_CLIENT = "jupyter-server"
"""The client label of the supervisor's own questions in the broker's log."""

Fingerprint = Callable[[], object]
"""Reads what identifies the store's current contents (compared with ``==``)."""


class IdleExit:
    """Counts requests in flight and when the broker was last used; ``seconds`` 0 turns idle stops off."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.in_flight = 0
        self.last_use = clock()

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def begin(self, use: bool) -> None:
        """A request starts; ``use`` False for one that must not keep the broker (the provider list)."""
        self.in_flight += 1
        if use:
            self.last_use = self._clock()

    def end(self, use: bool) -> None:
        """The request has its answer (a long one counts as use until it ends)."""
        self.in_flight -= 1
        if use:
            self.last_use = self._clock()

    def touch(self) -> None:
        """Counts now as use: a start, or an idle broker that must stay for now."""
        self.last_use = self._clock()

    def due_in(self) -> float:
        """Seconds until the broker counts as idle (0 or less: it does), ``seconds`` when requests are in flight."""
        if self.in_flight:
            return self.seconds
        return self.last_use + self.seconds - self._clock()


@dataclass(frozen=True)
class IdleAnswer:
    """The broker's answer to ``GET /api/v1/idle``; ``description`` is one line for the log (nothing secret)."""

    can_exit: bool
    description: str


@dataclass
class RestingList:
    """The provider list of a broker stopped for idleness, valid while ``fingerprint()`` is unchanged."""

    body: bytes = field(repr=False)
    fingerprint: Fingerprint
    taken: object

    def current(self) -> bytes | None:
        """The list, or None when the store may have changed since (another server on the same file store)."""
        try:
            return self.body if self.fingerprint() == self.taken else None
        except OSError:
            return None


def store_fingerprint(store: dict[str, Any]) -> Fingerprint | None:
    """How to tell that the broker's store changed while it was stopped; None when it cannot be told (a keychain
    can be written by anyone holding it), and then no list is answered in a stopped broker's place."""
    kind = store.get("type")
    if kind == "memory":
        return lambda: None  # only this broker could write to it, and it is stopped
    if kind == "file" and isinstance(store.get("path"), str):
        path = store["path"]

        def file_state() -> object:
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                return "missing"
            return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

        return file_state
    return None


def resting_body(listing: bytes) -> bytes | None:
    """The provider list to answer while the broker is stopped: the last one, with no cached access token (the
    stopped broker's cache is gone); None when it is not the broker's list shape."""
    try:
        answer = json.loads(listing)
        providers = answer["providers"]
        for provider in providers:
            provider["expires_at"] = None
    except (ValueError, KeyError, TypeError):
        return None
    return json.dumps({"providers": providers}).encode()


class IdleQueries:
    """The supervisor's two questions to a running broker before it stops it, as the server's owner."""

    def __init__(self, client: BrokerClient, *, key: str, owner: str) -> None:
        self._client = client
        self._key = key
        self._owner = owner

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", **trusted_headers(key=self._key, user=self._owner, client=IDLE_CLIENT)}

    async def answer(self) -> IdleAnswer:
        """Whether the broker may stop now.

        :raises BrokerUnavailable: no answer, or not the ``{can_exit, description}`` shape (then it stays).
        """
        response = await self._client.request("GET", "/api/v1/idle", self._headers(), None)
        try:
            body = json.loads(response.body)
            can_exit, description = body["can_exit"], body["description"]
        except (ValueError, KeyError, TypeError) as err:
            raise BrokerUnavailable(f"no idle answer (status {response.status})") from err
        if response.status != 200 or not isinstance(can_exit, bool) or not isinstance(description, str):
            raise BrokerUnavailable(f"no idle answer (status {response.status})")
        return IdleAnswer(can_exit, " ".join(description.split())[:300])

    async def provider_list(self) -> bytes | None:
        """The provider list to answer while stopped (:func:`resting_body`), or None."""
        try:
            response = await self._client.request("GET", "/api/v1/providers", self._headers(), None)
        except BrokerUnavailable:
            return None
        return resting_body(response.body) if response.status == 200 else None
