"""Admin revocation of a user's tokens from the hub: the hub login's refresh token at the IdP, the tokens in
auth_state (the user must log in again), the same order to every running server, and a durable order for the
servers that could not get it now. Also what the admin list shows of a user.

Everything that reads or writes a user's auth_state holds that user's lock of :class:`TokenRefresher`, so a
revocation never races a refresh (a refresh in flight finishes and saves first; the revocation then revokes the
refresh token it saved).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from jupyterhub import orm
from jupyterhub.utils import new_token

from .audit import HubAudit
from .errors import HubTokenError, UpstreamUnavailable
from .expiry import expires_at, jwt_claims
from .idp_revocation import IdpRevocation, RevocationRefused
from .orders import RETRY_KEY, add_order, new_order, orders_of, queue_retry, retries_of
from .refresh import TOKEN_KEYS, TokenRefresher
from .servers import ServerCallFailed, ServerClient, running_servers, server_names

#: The provider id of the hub login (the `hub` provider of user servers).
HUB_PROVIDER = "hub"
#: How many users a revocation for many users works on at once.
REVOKE_CONCURRENCY = 8
NO_ENDPOINT = "The identity provider has no revocation endpoint."
QUEUED = "The identity provider could not be reached; retried in the background."


class UpstreamRefused(HubTokenError):
    """The IdP refused the revocation (a 4xx other than 429): nothing was forgotten."""

    status = 502
    code = "upstream_error"


def step(target: str, outcome: str, code: str | None = None, description: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"target": target, "outcome": outcome}
    if code is not None:
        answer["code"] = code
    if description is not None:
        answer["description"] = description
    return answer


def overall(steps: list[dict[str, Any]]) -> str:
    """``ok`` when every step is ok or skipped, ``partial`` otherwise."""
    return "ok" if all(s["outcome"] in ("ok", "skipped") for s in steps) else "partial"


def server_label(name: str) -> str:
    return name or "(default)"


class Revocations:
    """Revokes users' tokens for one authenticator, and reports what they hold."""

    def __init__(
        self,
        authenticator: Any,
        settings: Any,
        *,
        refresher: TokenRefresher,
        audit: HubAudit,
        idp: IdpRevocation | None = None,
        servers: ServerClient | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.settings = settings
        self.refresher = refresher
        self.audit = audit
        self.idp = idp or IdpRevocation(authenticator, settings)
        self.servers = servers or ServerClient()
        self.log = authenticator.log
        #: When a user's hub-login access token was last handed to a server (ISO), since the hub started.
        self.last_used: dict[str, str] = {}
        #: Users with queued IdP revocations -> when to try next (monotonic) and the current wait.
        self._retry_at: dict[str, tuple[float, float]] = {}
        self._retry_task: asyncio.Task | None = None
        #: name -> (encrypted auth_state, hub_login summary, pending orders): the list decrypts only what changed.
        self._summaries: dict[str, tuple[Any, dict[str, Any], int]] = {}
        self._wake = asyncio.Event()
        self.app: Any = None

    @asynccontextmanager
    async def locked(self, user: Any) -> AsyncIterator[None]:
        """Holds the user's refresh lock (waits for a refresh in flight to save its tokens)."""
        lock = self.refresher._lock(user.name)
        wait = self.settings.refresh_request_timeout_seconds + self.settings.refresh_timeout_seconds
        try:
            await asyncio.wait_for(lock.acquire(), wait)
        except asyncio.TimeoutError:
            raise UpstreamUnavailable(
                "A refresh of this hub login is still running; try again.",
                retry_after=self.settings.retry_after_seconds,
            ) from None
        try:
            yield
        finally:
            lock.release()

    # -- revoke ---------------------------------------------------------------------------------------------------

    async def revoke_user(
        self, user: Any, provider: str | None, reason: str, force: bool, actor: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Revokes ``provider`` (None: everything) of ``user``; ``(HTTP status, answer)``."""
        steps: list[dict[str, Any]] = []
        if provider in (None, HUB_PROVIDER):
            try:
                steps += await self._revoke_login(user, reason, force, actor)
            except HubTokenError as err:
                steps.append(step("idp", "error", err.code, err.description))
                answer = {"user": user.name, "provider": provider, "outcome": "error", "steps": steps}
                self.audit.record(
                    "revoke",
                    actor=actor,
                    user=user.name,
                    provider=provider,
                    outcome="error",
                    code=err.code,
                    reason=reason,
                    steps=steps,
                )
                return err.status, answer
        steps += await self._revoke_in_servers(user, provider, reason, force)
        outcome = overall(steps)
        self.log.info(
            "token-broker: %s revoked %s of %s: %s (%s)",
            actor,
            provider or "everything",
            user.name,
            outcome,
            ", ".join(f"{s['target']} {s['outcome']}" for s in steps),
        )
        self.audit.record(
            "revoke", actor=actor, user=user.name, provider=provider, outcome=outcome, reason=reason, steps=steps
        )
        return 200, {"user": user.name, "provider": provider, "outcome": outcome, "steps": steps}

    async def revoke_many(
        self, users: list[Any], provider: str | None, reason: str, force: bool, actor: str | None
    ) -> list[dict[str, Any]]:
        """:meth:`revoke_user` for each of ``users``, a few at a time; one answer per user, in order."""
        limit = asyncio.Semaphore(REVOKE_CONCURRENCY)

        async def one(user: Any) -> dict[str, Any]:
            async with limit:
                _, answer = await self.revoke_user(user, provider, reason, force, actor)
                return answer

        return list(await asyncio.gather(*(one(user) for user in users)))

    async def _revoke_login(self, user: Any, reason: str, force: bool, actor: str | None) -> list[dict[str, Any]]:
        """The IdP and auth_state steps. Raises HubTokenError (nothing forgotten) when the IdP call failed without
        ``force``."""
        async with self.locked(user):
            state = await user.get_auth_state() or {}
            refresh_token = state.get("refresh_token")
            queued = False
            if not refresh_token:
                idp_step = step("idp", "skipped", description="The hub login holds no refresh token.")
            else:
                try:
                    endpoint = await self.idp.endpoint(state)
                    if endpoint is None:
                        idp_step = step("idp", "skipped", description=NO_ENDPOINT)
                    else:
                        await self.idp.revoke(endpoint, refresh_token)
                        idp_step = step("idp", "ok")
                except (UpstreamUnavailable, RevocationRefused) as err:
                    if isinstance(err, RevocationRefused):
                        failure: HubTokenError = UpstreamRefused(
                            f"The identity provider refused the revocation ({err.code})."
                        )
                    else:
                        failure = err
                    if not force:
                        failure.description = (
                            f"{failure.description} Nothing was forgotten; revoke with force to forget the hub login "
                            "anyway (the revocation at the identity provider is then retried in the background)."
                        )
                        raise failure from None
                    if isinstance(err, UpstreamUnavailable):
                        queued = True
                        idp_step = step("idp", "queued", err.code, QUEUED)
                    else:
                        idp_step = step("idp", "error", failure.code, failure.description)
            new_state = {k: v for k, v in state.items() if k not in TOKEN_KEYS}
            if queued:
                queue_retry(new_state, refresh_token, actor, reason)
            await user.save_auth_state(new_state)
            sessions = self._end_browser_sessions(user)
        if queued:
            self._schedule_retry(user.name, self.settings.revocation_retry_seconds)
        return [
            idp_step,
            step(
                "auth_state", "ok", description=f"Tokens removed, {sessions} browser session(s) ended: login required."
            ),
        ]

    def _end_browser_sessions(self, user: Any) -> int:
        """Makes the user's browsers log in again: a new cookie id (every hub cookie of the user stops working, on
        JupyterHub 5 and 6 alike), the OAuth tokens of their browser sessions with servers and services deleted,
        and the next request refreshes the login (which finds no tokens). Returns the sessions' token count."""
        db = user.db
        user.orm_user.cookie_id = new_token()
        tokens = (
            db.query(orm.APIToken)
            .filter(orm.APIToken.user_id == user.orm_user.id, orm.APIToken.session_id.isnot(None))
            .all()
        )
        for token in tokens:
            db.delete(token)
        db.commit()
        user._auth_refreshed = None
        return len(tokens)

    async def _revoke_in_servers(
        self, user: Any, provider: str | None, reason: str, force: bool
    ) -> list[dict[str, Any]]:
        running = running_servers(user)
        timeout = self.settings.server_timeout_seconds

        async def one(name: str, spawner: Any) -> dict[str, Any]:
            try:
                revoked = await self.servers.revoke(spawner, provider, reason, force, timeout)
            except ServerCallFailed as err:
                if err.code == "unknown_provider":
                    return step(f"server:{name}", "skipped", err.code, "The server has no such provider.")
                return step(f"server:{name}", "error", err.code, err.description)
            return step(f"server:{name}", "ok", description=f"Revoked: {revoked}." if revoked else "No grant held.")

        steps = list(await asyncio.gather(*(one(name, spawner) for name, spawner in running)))
        failed = [s["target"].split(":", 1)[1] for s in steps if s["outcome"] == "error"]
        running_names = {name for name, _ in running}
        needing = sorted(set(failed) | (set(server_names(user, started_once=True)) - running_names))
        if not needing:
            steps.append(step("order", "skipped", description="No stopped server and no failed server."))
            return steps
        order = new_order(provider, reason, needing)
        try:
            async with self.locked(user):
                state = await user.get_auth_state() or {}
                add_order(state, order)
                await user.save_auth_state(state)
        except HubTokenError as err:
            steps.append(step("order", "error", err.code, err.description))
            return steps
        servers = ", ".join(server_label(n) for n in needing)
        steps.append(step("order", "ok", description=f"Applied at the next start of: {servers}."))
        return steps

    # -- list -----------------------------------------------------------------------------------------------------

    async def describe(self, users: list[Any]) -> list[dict[str, Any]]:
        """What the admin list shows of ``users``: the hub login and each server's providers (running ones asked in
        parallel, for at most ``list_timeout_seconds``)."""
        deadline = self.settings.list_timeout_seconds

        async def providers(spawner: Any) -> tuple[list[dict[str, Any]] | None, bool | None, dict[str, str] | None]:
            try:
                found, running = await asyncio.wait_for(self.servers.providers(spawner, deadline), deadline)
            except asyncio.TimeoutError:
                return None, None, {"code": "upstream_unavailable", "description": "The server did not answer in time."}
            except ServerCallFailed as err:
                return None, None, {"code": err.code, "description": err.description}
            return found, running, None

        calls: dict[tuple[str, str], asyncio.Future] = {}
        for user in users:
            for name, spawner in running_servers(user):
                calls[(user.name, name)] = asyncio.ensure_future(providers(spawner))
        # The servers are asked first: their answers come while auth_state is read here.
        summaries = await asyncio.gather(*(self._summary(user) for user in users))
        if calls:
            await asyncio.gather(*calls.values())
        listed = []
        for user, (hub_login, pending) in zip(users, summaries):
            servers = []
            for name in server_names(user):
                call = calls.get((user.name, name))
                if call is None:
                    servers.append(
                        {"name": name, "running": False, "broker_running": None, "providers": None, "error": None}
                    )
                else:
                    found, broker_running, error = call.result()
                    servers.append(
                        {
                            "name": name,
                            "running": True,
                            "broker_running": broker_running,
                            "providers": found,
                            "error": error,
                        }
                    )
            listed.append(
                {
                    "name": user.name,
                    "hub_login": {**hub_login, "last_used_at": self.last_used.get(user.name)},
                    "servers": servers,
                    "pending_orders": pending,
                }
            )
        return listed

    async def _summary(self, user: Any) -> tuple[dict[str, Any], int]:
        """What the list shows of a user's auth_state (no token material), decrypted again only when it changed."""
        blob = user.orm_user.encrypted_auth_state
        cached = self._summaries.get(user.name)
        if cached is not None and cached[0] == blob:
            return cached[1], cached[2]
        state = await user.get_auth_state() or {}
        summary = (self._hub_login(state), len(orders_of(state)))
        self._summaries[user.name] = (blob, *summary)
        return summary

    def _hub_login(self, state: dict[str, Any]) -> dict[str, Any]:
        held = bool(state.get("access_token"))
        scope = state.get("scope")
        scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope] if isinstance(scope, list) else []
        expiry = expires_at(state) if held else None
        return {
            "held": held,
            "account": _account(state) if held else None,
            "scopes": scopes if held else [],
            "expires_at": int(expiry) if expiry is not None else None,
        }

    # -- retries of IdP revocations -------------------------------------------------------------------------------

    def start(self, app: Any) -> None:
        """Starts the background retries (at hub start): users with queued revocations are found in the database."""
        self.app = app
        if self._retry_task is None:
            self._retry_task = asyncio.ensure_future(self._retry_loop(scan=True))

    def _schedule_retry(self, name: str, wait: float) -> None:
        self._retry_at[name] = (time.monotonic() + wait, wait)
        if self._retry_task is None:
            self._retry_task = asyncio.ensure_future(self._retry_loop(scan=False))
        self._wake.set()

    async def _retry_loop(self, scan: bool) -> None:
        if scan:
            try:
                await self._scan()
            except Exception as err:  # never the message: it may quote auth_state
                self.log.error("token-broker: queued IdP revocations could not be read (%s)", type(err).__name__)
        while True:
            now = time.monotonic()
            due = [name for name, (at, _) in self._retry_at.items() if at <= now]
            for name in due:
                try:
                    await self._retry(name)
                except Exception as err:
                    self.log.error("token-broker: IdP revocation retry for %s failed (%s)", name, type(err).__name__)
                    self._backoff(name)
            waits = [at - time.monotonic() for at, _ in self._retry_at.values()]
            self._wake.clear()
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, min(waits)) if waits else None)

    async def _scan(self) -> None:
        await asyncio.sleep(0)
        app = self.app
        if app is None:
            return
        for orm_user in app.db.query(orm.User).filter(orm.User.encrypted_auth_state.isnot(None)):
            user = app.users[orm_user]
            if retries_of(await user.get_auth_state()):
                self._retry_at.setdefault(user.name, (time.monotonic(), self.settings.revocation_retry_seconds))

    def _backoff(self, name: str) -> None:
        _, wait = self._retry_at.get(name, (0.0, self.settings.revocation_retry_seconds))
        wait = min(wait * 2, self.settings.revocation_retry_max_seconds)
        self._retry_at[name] = (time.monotonic() + wait, wait)

    async def _retry(self, name: str) -> None:
        """Sends one user's queued IdP revocations; keeps those that failed for later."""
        user = self._user(name)
        if user is None:
            self._retry_at.pop(name, None)
            return
        state = await user.get_auth_state() or {}
        kept, done = [], []
        # Sent without the user's lock: a user who logged in again is never kept waiting by an IdP still down.
        for item in retries_of(state):
            outcome, code = await self._send(state, item)
            if outcome == "retry":
                kept.append(item)
            else:
                done.append((item, outcome, code))
        if done:
            sent = {item["refresh_token"] for item, _, _ in done}
            async with self.locked(user):
                state = await user.get_auth_state() or {}
                remaining = [item for item in retries_of(state) if item["refresh_token"] not in sent]
                if remaining:
                    state[RETRY_KEY] = remaining
                else:
                    state.pop(RETRY_KEY, None)
                await user.save_auth_state(state)
        for item, outcome, code in done:
            self.audit.record(
                "idp_retry",
                actor=item.get("actor"),
                user=name,
                provider=HUB_PROVIDER,
                outcome=outcome,
                code=code,
                reason=item.get("reason"),
            )
        if kept:
            self.audit.record(
                "idp_retry",
                actor=kept[0].get("actor"),
                user=name,
                provider=HUB_PROVIDER,
                outcome="queued",
                code="upstream_unavailable",
                reason=kept[0].get("reason"),
            )
            self._backoff(name)
        else:
            self._retry_at.pop(name, None)

    async def _send(self, state: dict[str, Any], item: dict[str, Any]) -> tuple[str, str | None]:
        """One queued revocation: ``("ok"|"error"|"retry", code)``."""
        if time.time() - float(item.get("queued_at", 0)) > self.settings.revocation_retry_days * 86400:
            return "error", "expired"
        try:
            endpoint = await self.idp.endpoint(state)
            if endpoint is None:
                return "error", "no_revocation_endpoint"
            await self.idp.revoke(endpoint, item["refresh_token"])
        except UpstreamUnavailable:
            return "retry", "upstream_unavailable"
        except RevocationRefused as err:
            return "error", err.code
        return "ok", None

    def _user(self, name: str) -> Any:
        app = self.app
        if app is None:
            return None
        orm_user = app.db.query(orm.User).filter(orm.User.name == name).first()
        return app.users[orm_user] if orm_user is not None else None


def _account(state: dict[str, Any]) -> str | None:
    """The login's account at the IdP (a name, never a token): the user info's preferred name, email or subject."""
    for source in (state.get("oauth_user"), jwt_claims(state.get("id_token"))):
        if isinstance(source, dict):
            for key in ("preferred_username", "email", "sub"):
                if isinstance(source.get(key), str):
                    return source[key]
    return None
