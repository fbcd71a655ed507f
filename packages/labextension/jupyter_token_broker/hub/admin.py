"""The hub's token-broker admin API (``/hub/api/token-broker/v1/admin/…``) and the orders route of user servers.

Admin routes need the custom scope ``custom:token-broker:admin``, checked at request time against the caller's
expanded scopes (custom scopes can't be named in ``@needs_scope`` at import time): unfiltered it covers every user,
filtered (``!user=x``, ``!group=g``) only the users it names. Answers are JSON, never cached, never token material.
"""

from __future__ import annotations

import json
from typing import Any

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import Scope

from ..contract import PROVIDER_ID
from .errors import Forbidden, HubTokenError, InvalidRequest, NotFound, Unauthorized
from .handlers import ADMIN_SCOPE, TOKEN_SCOPE
from .orders import acknowledge, pending_for

MAX_REASON = 500
MAX_AUDIT_LIMIT = 1000


class TokenBrokerAPIHandler(APIHandler):
    """JSON answers with the broker's error shape, for the routes below."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")

    @property
    def revocations(self) -> Any:
        return self.authenticator.token_broker.revocations

    def send_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def send_error_body(self, err: HubTokenError) -> None:
        self.set_status(err.status)
        if err.retry_after is not None:
            self.set_header("Retry-After", str(err.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(err.body()))

    def caller(self) -> str:
        """The caller's name, for the audit trail (a user or a service)."""
        who = self.current_user
        kind = "service" if isinstance(who, orm.Service) else "user"
        return f"{kind}:{who.name}"

    def require_scope(self, scope: str) -> None:
        if self.current_user is None:
            raise Unauthorized("This route needs JupyterHub authentication (an API token or the hub login).")
        if scope not in self.parsed_scopes:
            raise Forbidden(f"This route needs the JupyterHub scope {scope}.")

    def covers(self, scope: str, user: Any) -> bool:
        return bool(self.get_scope_filter(scope)(user, "user"))

    def user_for(self, scope: str, name: str) -> Any:
        """The hub user ``name`` if the caller's ``scope`` covers it; 404 only for callers who may see every user."""
        user = self.find_user(name)
        if user is None:
            if self.parsed_scopes.get(scope) is Scope.ALL:
                raise NotFound(f"No hub user {name!r}.")
            raise Forbidden(f"The token does not hold {scope} for user {name!r}.")
        if not self.covers(scope, user):
            raise Forbidden(f"The token does not hold {scope} for user {name!r}.")
        return user

    def visible_users(self, names: list[str], groups: list[str]) -> list[Any]:
        """The users the caller's admin scope covers, narrowed to ``names`` or members of ``groups`` when given."""
        query = self.db.query(orm.User)
        if names or groups:
            wanted = set(names)
            if groups:
                for group in self.db.query(orm.Group).filter(orm.Group.name.in_(groups)):
                    wanted |= {u.name for u in group.users}
            query = query.filter(orm.User.name.in_(sorted(wanted)))
        users = [self.users[orm_user] for orm_user in query.order_by(orm.User.name)]
        return [user for user in users if self.covers(ADMIN_SCOPE, user)]

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise InvalidRequest("The body must be a JSON object.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return body

    def revoke_options(self, body: dict[str, Any]) -> tuple[str | None, str, bool]:
        provider = body.get("provider")
        if provider is not None and (not isinstance(provider, str) or not PROVIDER_ID.match(provider)):
            raise InvalidRequest("provider must be a provider id (or null for everything).")
        reason = body.get("reason")
        if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= MAX_REASON:
            raise InvalidRequest(f"reason must be a text of 1 to {MAX_REASON} characters.")
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise InvalidRequest("force must be true or false.")
        return provider, reason.strip(), force


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"{what} must be a list of names.")
    return value


class AdminUsersHandler(TokenBrokerAPIHandler):
    """``GET admin/users?user=NAME&group=NAME``: what the hub and the running brokers hold, per user."""

    async def get(self) -> None:
        try:
            self.require_scope(ADMIN_SCOPE)
            names = self.get_arguments("user")
            users = self.visible_users(names, self.get_arguments("group"))
            listed = await self.revocations.describe(users)
        except HubTokenError as err:
            self.send_error_body(err)
            return
        self.revocations.audit.record(
            "list", actor=self.caller(), user=names[0] if len(names) == 1 else None, outcome="ok"
        )
        self.send_json({"users": listed})


class AdminRevokeUserHandler(TokenBrokerAPIHandler):
    """``POST admin/users/{name}/revoke`` ``{provider?, reason, force?}``: revokes one user's tokens."""

    async def post(self, name: str) -> None:
        try:
            self.require_scope(ADMIN_SCOPE)
            user = self.user_for(ADMIN_SCOPE, name)
            provider, reason, force = self.revoke_options(self.json_body())
        except HubTokenError as err:
            self.send_error_body(err)
            return
        status, answer = await self.revocations.revoke_user(user, provider, reason, force, self.caller())
        if status == 503:
            self.set_header("Retry-After", str(self.authenticator.token_broker.settings.retry_after_seconds))
        if status >= 400:
            step = answer["steps"][-1]
            answer = {**answer, "error": step.get("code", "server_error"), "error_description": step.get("description")}
        self.send_json(answer, status)


class AdminRevokeHandler(TokenBrokerAPIHandler):
    """``POST admin/revoke`` ``{provider?, reason, force?, users?, groups?}``: revokes for many users (no users and
    no groups: every user the caller's scope covers), one result per user."""

    async def post(self) -> None:
        try:
            self.require_scope(ADMIN_SCOPE)
            body = self.json_body()
            provider, reason, force = self.revoke_options(body)
            names, groups = _names(body.get("users"), "users"), _names(body.get("groups"), "groups")
            users = self.visible_users(names, groups)
            if names and len({u.name for u in users} & set(names)) < len(set(names)):
                raise Forbidden(f"The token does not hold {ADMIN_SCOPE} for every user named (or one does not exist).")
        except HubTokenError as err:
            self.send_error_body(err)
            return
        results = await self.revocations.revoke_many(users, provider, reason, force, self.caller())
        self.send_json({"results": results})


class AdminAuditHandler(TokenBrokerAPIHandler):
    """``GET admin/audit?user=NAME&limit=N``: the hub-side audit trail, newest first."""

    async def get(self) -> None:
        try:
            self.require_scope(ADMIN_SCOPE)
            name = self.get_argument("user", None)
            raw = self.get_argument("limit", "100")
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_AUDIT_LIMIT:
                raise InvalidRequest(f"limit must be an integer from 1 to {MAX_AUDIT_LIMIT}.")
            limit = int(raw)
            if name is not None:
                self.user_for(ADMIN_SCOPE, name)
        except HubTokenError as err:
            self.send_error_body(err)
            return
        audit = self.revocations.audit
        if self.parsed_scopes.get(ADMIN_SCOPE) is Scope.ALL:
            events = audit.events(name, limit)
        else:
            # A filtered admin sees only events about users it covers.
            seen: dict[str, bool] = {}

            def covered(event: dict[str, Any]) -> bool:
                who = event.get("user")
                if not who:
                    return False
                if who not in seen:
                    user = self.find_user(who)
                    seen[who] = user is not None and self.covers(ADMIN_SCOPE, user)
                return seen[who]

            events = [e for e in audit.events(name, MAX_AUDIT_LIMIT * 10) if covered(e)][:limit]
        self.send_json({"events": events})


class OrdersHandler(TokenBrokerAPIHandler):
    """``GET users/{name}/orders?server=NAME`` (``{orders: [{id, provider, reason, created_at}]}``) and
    ``DELETE users/{name}/orders/{id}?server=NAME`` (204: this server applied it), for the user's servers
    (their token holds ``custom:token-broker:token`` for the user)."""

    async def get(self, name: str, order_id: str | None = None) -> None:
        try:
            self.require_scope(TOKEN_SCOPE)
            user = self.user_for(TOKEN_SCOPE, name)
            if order_id is not None:
                raise NotFound("Read the orders with GET …/orders.")
            server = self.get_argument("server", None)
            state = await user.get_auth_state()
        except HubTokenError as err:
            self.send_error_body(err)
            return
        self.send_json({"orders": pending_for(state, server)})

    async def delete(self, name: str, order_id: str | None = None) -> None:
        try:
            self.require_scope(TOKEN_SCOPE)
            user = self.user_for(TOKEN_SCOPE, name)
            if not order_id:
                raise InvalidRequest("DELETE …/orders/{id}?server=NAME acknowledges one order.")
            server = self.get_argument("server", "")
            revocations = self.revocations
            async with revocations.locked(user):
                state = await user.get_auth_state() or {}
                found, _ = acknowledge(state, order_id, server)
                if found:
                    await user.save_auth_state(state)
            if not found:
                raise NotFound("No such order for this user.")
        except HubTokenError as err:
            self.send_error_body(err)
            return
        revocations.audit.record(
            "order_applied", actor=self.caller(), user=name, outcome="ok", server=server or "", provider=None
        )
        self.set_status(204)
        self.finish()


def admin_handlers() -> list[tuple[str, type]]:
    """The routes, relative to the hub prefix, for ``Authenticator.get_handlers``."""
    prefix = r"/api/token-broker/v1"
    return [
        (rf"{prefix}/admin/users", AdminUsersHandler),
        (rf"{prefix}/admin/users/([^/]+)/revoke", AdminRevokeUserHandler),
        (rf"{prefix}/admin/revoke", AdminRevokeHandler),
        (rf"{prefix}/admin/audit", AdminAuditHandler),
        (rf"{prefix}/users/([^/]+)/orders(?:/([^/]+))?", OrdersHandler),
    ]
