"""The Jupyter routes ``{base_url}token-broker/api/v1/*``: owner-only, authenticated proxies to the broker.

Jupyter does the authentication (403 for an unauthenticated API call) and the XSRF check on POST/PUT/DELETE
(a token in the ``Authorization`` header exempts, as everywhere in Jupyter). These handlers then check that the
caller is the server's owner, refuse what a browser must never do, replace any ``X-Broker-*`` header with the
trusted ones, and forward an allow-list of headers each way.
"""

from __future__ import annotations

import json
import logging
import re

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .contract import MAX_BODY_BYTES
from .egress_client import is_egress_path
from .hub_env import hub_callback_path
from .identity import client_label, hub_server_name, is_admin, trusted_headers
from .owner import Owner
from .sharing import ShareCheck
from .supervisor import CONFIG_FIX, BrokerSupervisor
from .upstream import BrokerClient, BrokerUnavailable, UpstreamResponse

ROUTE_PREFIX = "token-broker/api/v1/"
"""The broker's API under the server's base URL."""

RETRY_AFTER_SECONDS = 2
"""Retry-After while the broker is (re)starting."""

REQUEST_HEADERS = ("Content-Type", "Accept")
"""Request headers forwarded to the broker; cookies and Jupyter credentials never are."""

RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "Retry-After")
"""Response headers forwarded from the broker."""

LIST_PATHS = frozenset({"providers", "admin/providers"})
"""The provider list (``GET``): the status bar reads it every minute, so it does not keep an idle broker running, and
a broker stopped for idleness is not started for it while its last list is still true."""

NOT_RUNNING_LIST = json.dumps({"providers": [], "broker_running": False}).encode()
"""The admin provider list of a server whose broker is not running and left no list: nothing is held in its
memory (what a file or keychain store holds is read when the owner next uses it); an admin revocation still
starts it."""

LOGIN_PATH = re.compile(r"^providers/[^/]+/login$")
TOKEN_PATH = re.compile(r"^providers/([^/]+)/token$")
ADMIN_PATHS = {
    "admin/revoke": ("Admin revocation", "admin/revoke"),
    "admin/providers": ("The admin provider list", "providers"),
}
"""The routes an admin (not the owner) may call, ``POST admin/revoke`` and ``GET admin/providers``: what each is
called in a refusal, and the broker path it is forwarded to (the broker lets an admin list its providers)."""

EVERYDAY_REFUSALS = {
    "login_required": "{client} asked for {provider} tokens: not signed in (login_required)",
    "consent_required": "{client} asked for {provider} tokens: no consent decision yet, JupyterLab asks the person"
    " (consent_required)",
    "consent_denied": "{client} asked for {provider} tokens: the person denied it (consent_denied)",
}
"""Refusals that are part of normal use, not problems: logged at info in these words, and Jupyter's access log
line for them goes to debug instead of a ``[W] 403`` warning."""


def everyday_refusal(status: int, body: bytes) -> str | None:
    """The broker's error code when an answer is one of :data:`EVERYDAY_REFUSALS`, else None."""
    if status not in (401, 403) or len(body) > 4096:
        return None
    try:
        code = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    return code if code in EVERYDAY_REFUSALS else None


class _AccessLogAtDebug(logging.LoggerAdapter):
    """Jupyter's access log line of an everyday refusal at debug level; everything else as it was."""

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        self.debug(msg, *args, **kwargs)  # type: ignore[arg-type]


def has_dot_segment(path: str) -> bool:
    """Whether the path tries to climb out of ``/api/v1/`` (``.``/``..`` segments, also percent-encoded)."""
    lowered = path.lower().replace("%2e", ".")
    return any(segment in (".", "..") for segment in lowered.split("/"))


class BrokerProxyHandler(APIHandler):
    """``{base_url}token-broker/api/v1/(.*)``: forwards an owner's request to the broker."""

    relayed_headers: tuple[str, ...] = RESPONSE_HEADERS
    everyday_refusal: str | None = None
    """Set by :meth:`relay` when the broker's answer is an everyday refusal (``consent_required``, …)."""

    def initialize(
        self,
        *,
        supervisor: BrokerSupervisor,
        client: BrokerClient,
        owner: str,
        admitted: Owner | None,
        redirect_uri: str | None,
        share_check: ShareCheck | None = None,
    ) -> None:
        """``owner`` is the name grants are bound to (``X-Broker-User``), ``admitted`` who may call (``owner.py``;
        None when it could not be decided, and the broker was then not started)."""
        self.supervisor = supervisor
        self.client = client
        self.owner = owner
        self.admitted = admitted
        self.redirect_uri_override = redirect_uri
        self.share_check = share_check

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter:  # type: ignore[override]
        """Jupyter's log; after an everyday refusal, one whose warnings (the access log line) are debug."""
        base = super().log
        return _AccessLogAtDebug(base, {}) if self.everyday_refusal else base

    def check_xsrf_cookie(self) -> None:
        """Jupyter's XSRF check, also when ``disable_check_xsrf`` is set: tokens are worth a forged request.

        Token-authenticated requests (``Authorization: token …``) stay exempt, as everywhere in Jupyter.
        """
        if not hasattr(self, "_jupyter_current_user"):
            return  # called before authentication; prepare() calls it again
        if self.token_authenticated:
            return
        if not self.check_origin():
            raise web.HTTPError(404)
        web.RequestHandler.check_xsrf_cookie(self)

    @web.authenticated
    async def get(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    async def post(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    async def put(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    async def delete(self, path: str) -> None:
        await self.forward(path)

    def send_error_json(self, status: int, code: str, description: str, retry_after: int | None = None) -> None:
        """Answers with the broker's error shape ``{error, error_description}``."""
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        self.finish(json.dumps({"error": code, "error_description": description}), set_content_type="application/json")

    def broker_path(self) -> str:
        """The raw (still percent-encoded) path after ``token-broker/api/v1/``."""
        prefix = url_path_join(self.base_url, ROUTE_PREFIX)
        raw = self.request.path
        return raw[len(prefix) :] if raw.startswith(prefix) else ""

    def callback_url(self) -> str:
        """The redirect URI of a login: the configured one, or this server as the browser reached it."""
        if self.redirect_uri_override:
            return self.redirect_uri_override
        hub_path = hub_callback_path()
        if hub_path is not None:
            # Under a hub that runs configure(): the one redirect URI the IdP knows for every user and server; the
            # hub's user_redirect_hook sends the callback on to this server (its name travels in the login state).
            return f"{self.request.protocol}://{self.request.host}{hub_path}"
        return f"{self.request.protocol}://{self.request.host}{url_path_join(self.base_url, ROUTE_PREFIX)}callback"

    def server_url(self) -> str:
        """This server as the browser reached it, ``{scheme}://{host}{base_url}``: what a provider's
        relative ``browser_authorization_endpoint`` (an IdP behind this server's proxy) is resolved against."""
        return f"{self.request.protocol}://{self.request.host}{self.base_url}"

    def caller_role(self, method: str, path: str) -> str | None:
        """``admin`` for the admin routes (:data:`ADMIN_PATHS`) called by a holder of the hub's admin scope for this
        server, ``owner`` for the owner's other calls; for anyone else answers 403 and returns None."""
        if path in ADMIN_PATHS:
            what = ADMIN_PATHS[path][0]
            if is_admin(self.current_user):
                self.log.info("token-broker: %s by %s", what.lower(), self.current_user.username)
                return "admin"
            self.log.warning("token-broker: %s %s refused: no admin scope", method, self.request.path)
            self.send_error_json(403, "forbidden", f"{what} needs the JupyterHub scope custom:token-broker:admin.")
            return None
        if self.admitted is None:
            # The owner could not be decided: the broker was not started, and everyone hears why.
            self.send_not_ready()
            return None
        username = self.current_user.username if self.current_user else None
        if self.admitted.admits(username, self.request.headers.get("Authorization")):
            return "owner"
        self.log.warning("token-broker: %s %s refused: not the server's owner", method, self.request.path)
        self.send_error_json(403, "forbidden", "Only the owner of this Jupyter server can use its token broker.")
        return None

    async def forward(self, _decoded_path: str) -> None:
        """Checks the caller and the request, then forwards it and relays the broker's answer."""
        method = self.request.method or "GET"
        path = self.broker_path()
        caller = self.caller_role(method, path)
        if caller is None:
            return
        # A spelling of the egress route that missed its own handler (case, %-encoding) is no path here either.
        if has_dot_segment(path) or is_egress_path(path):
            self.send_error_json(400, "invalid_request", "Invalid path.")
            return
        body = self.request.body or b""
        if len(body) > MAX_BODY_BYTES:
            self.send_error_json(413, "payload_too_large", f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
            return
        if method == "POST" and TOKEN_PATH.match(path) and self.share_check is not None:
            # Kernels run the owner's code and a visitor's alike: no tokens while the server is shared.
            refusal = await self.share_check.refusal()
            if refusal is not None:
                self.log.warning("token-broker: token request refused: %s", refusal.code)
                self.send_error_json(refusal.status, refusal.code, refusal.description, refusal.retry_after)
                return
        listing = method == "GET" and path in LIST_PATHS
        if listing:
            resting = await self.supervisor.resting_list()
            if resting is None and caller == "admin" and not self.supervisor.running:
                # The hub's admin list asks every running server: it must not start a broker nobody uses.
                resting = NOT_RUNNING_LIST
            if resting is not None:
                self.set_header("Cache-Control", "no-store")
                self.finish(resting, set_content_type="application/json")
                return
        # Starts a stopped broker and waits for it (a cold start, or the hub's revocation orders: usually a moment).
        async with self.supervisor.using(use=not listing) as ready:
            if not ready:
                self.send_not_ready()
                return
            await self.send_to_broker(method, path, caller, body)

    async def send_to_broker(self, method: str, path: str, caller: str, body: bytes) -> None:
        """Forwards the checked request to the running broker and relays its answer."""
        if caller == "admin":
            path = ADMIN_PATHS[path][1]
            if path == "admin/revoke":
                # The hub ends the owner's browser sessions before it calls here: forget jupyterhub-singleuser's
                # cached answers for their tokens, so an open page asks the hub again (and is sent to log in)
                # instead of working on for HubAuth.cache_max_age.
                cache = getattr(getattr(self.identity_provider, "hub_auth", None), "cache", None)
                if cache is not None:
                    cache.clear()

        headers = {name: self.request.headers[name] for name in REQUEST_HEADERS if name in self.request.headers}
        login = method == "POST" and LOGIN_PATH.match(path) is not None
        headers.update(
            trusted_headers(
                key=self.supervisor.key,
                user=self.owner,
                client=client_label(self.request.headers.get("X-Token-Broker-Client")),
                redirect_uri=self.callback_url() if login else None,
                server_url=self.server_url() if login else None,
                server_name=hub_server_name() if login else None,
                caller=caller,
            )
        )
        query = f"?{self.request.query}" if self.request.query else ""
        try:
            response = await self.client.request(
                method, f"/api/v1/{path}{query}", headers, body if method in ("POST", "PUT", "PATCH") else None
            )
        except BrokerUnavailable as err:
            self.log.warning("token-broker: not reachable (%s)", err)
            self.send_error_json(
                503, "upstream_unavailable", "The token broker is not running.", retry_after=RETRY_AFTER_SECONDS
            )
        except ValueError:
            # A path or forwarded header the client refuses to put on the wire (control or non-ASCII characters).
            self.send_error_json(400, "invalid_request", "Invalid path or header.")
        else:
            self.relay(response)

    def send_not_ready(self) -> None:
        """503 without a broker: ``config_error`` (no Retry-After: the same clear answer until an admin fixes the
        config) when its config was refused, else ``upstream_unavailable`` while it starts or restarts."""
        refused = self.supervisor.config_error
        if refused is not None:
            self.send_error_json(503, "config_error", f"The token broker was not started: {refused} ({CONFIG_FIX}).")
            return
        self.send_error_json(503, "upstream_unavailable", self.not_ready_description(), retry_after=RETRY_AFTER_SECONDS)

    def not_ready_description(self) -> str:
        """Says why there is no broker to forward to: starting, or refused to start and why."""
        failure = self.supervisor.start_failure
        if failure:
            return f"The token broker could not start ({failure}); see the Jupyter server log."
        held = self.supervisor.held
        if held:
            return f"The token broker serves nothing until JupyterHub's revocation orders are applied: {held}."
        return "The token broker is starting."

    def relay(self, response: UpstreamResponse) -> None:
        """Sends the broker's status, body and allow-listed headers to the caller."""
        code = everyday_refusal(response.status, response.body)
        if code is not None:
            token_path = TOKEN_PATH.match(self.broker_path())
            self.log.info(
                "token-broker: %s",
                EVERYDAY_REFUSALS[code].format(
                    client=client_label(self.request.headers.get("X-Token-Broker-Client")),
                    provider=repr(token_path.group(1)) if token_path else "provider",
                ),
            )
            self.everyday_refusal = code
        self.set_status(response.status, reason=response.reason or None)
        for name in self.relayed_headers:
            if name in response.headers and name != "Content-Type":
                self.set_header(name, response.headers[name])
        content_type = response.headers.get("Content-Type", "application/json")
        if response.status in (204, 304):
            self.clear_header("Content-Type")
            self.finish()
            return
        self.finish(response.body, set_content_type=content_type)


class BrokerCallbackHandler(BrokerProxyHandler):
    """``{base_url}token-broker/api/v1/callback``: the IdP sends the login popup here.

    A page the browser navigates to, not an API call: an unauthenticated visit is sent to Jupyter's login page
    (``JupyterHandler.get_login_url``), and the broker's HTML page is relayed as it is.
    """

    relayed_headers = (*RESPONSE_HEADERS, "Content-Security-Policy")

    def get_login_url(self) -> str:
        return JupyterHandler.get_login_url(self)

    @web.authenticated
    async def get(self, path: str = "callback") -> None:
        # The query carries the authorization code: keep it out of any Referer the page might send.
        self.set_header("Referrer-Policy", "no-referrer")
        await self.forward(path)

    @property
    def content_security_policy(self) -> str:
        # The broker's page runs one inline script that posts the result to the opener; APIHandler's
        # "default-src 'none'" would block it. The broker's own policy, when it sends one, replaces this.
        return JupyterHandler.content_security_policy.fget(self)  # type: ignore[attr-defined]
