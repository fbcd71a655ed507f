"""The hub side's options (``c.TokenBrokerHub.<option>`` or ``configure(c, option=...)``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from traitlets import Bool, Float, Integer, List, Unicode, validate
from traitlets.config import Configurable

#: Hosts an egress prefix may name with ``http://`` (tests and local services), as the broker accepts.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def egress_prefix_problem(value: object) -> str | None:
    """What is wrong with one egress prefix, or None. The shape only: the broker's check is the full one (it
    refuses dot segments and encoded ``.``, ``/``, ``\\`` too, and every user server's config check logs it)."""
    if not isinstance(value, str) or not value:
        return 'must be a URL prefix string, e.g. "https://api.example.org/v1/"'
    parts = urlsplit(value)
    checks = (
        (parts.scheme in ("https", "http") and bool(parts.netloc), "must be an absolute https URL"),
        (
            parts.scheme == "https" or (parts.hostname or "") in LOOPBACK_HOSTS,
            "must be https (http only for 127.0.0.1, ::1 or localhost)",
        ),
        ("@" not in parts.netloc, "must not carry credentials (userinfo)"),
        ("?" not in value and "#" not in value, "must have no query or fragment"),
        (parts.path.endswith("/"), f'must end with "/" (a path prefix: "{value}/" allows that folder and below)'),
    )
    return next((problem for ok, problem in checks if not ok), None)


class TokenBrokerHub(Configurable):
    """How the hub keeps its users' OAuth logins fresh and hands their access tokens to their servers."""

    refresh_margin_seconds = Integer(
        60,
        help="""Refresh a hub login's access token when it has less than this many seconds left, when the hub
        refreshes the user (``auth_refresh_age``, before a spawn). Capped at half the token's lifetime, so a
        short-lived token is not refreshed on every request. The token route refreshes when the caller's
        ``min_ttl`` would not be met.""",
    ).tag(config=True)

    default_min_ttl = Integer(
        30,
        help="""The `min_ttl` of a token request that names none: seconds the handed-out token must have left
        (at most half the IdP's access-token lifetime).""",
    ).tag(config=True)

    provider_title = Unicode(
        "",
        help="""The title user servers show for the hub login's provider (JUPYTER_TOKEN_BROKER_HUB). Empty: the
        authenticator's `login_service` followed by " (hub login)", e.g. "Keycloak (hub login)".""",
    ).tag(config=True)

    egress = List(
        Unicode(),
        default_value=[],
        help="""URL prefixes the user servers' brokers may send the hub login's access token to through their egress
        (``broker_session("hub")`` in a notebook, ``client.fetch(url)`` in a plugin), e.g.
        ``["https://archive.example.org/tap/"]``: each an absolute https URL whose path ends with "/" (that folder
        and below), no userinfo, query or fragment; plain http only for 127.0.0.1, ::1 or localhost. Announced to
        the servers with the provider (``JUPYTER_TOKEN_BROKER_HUB``); each server's broker checks them again in
        full. Empty: the hub login has no egress.""",
    ).tag(config=True)

    expose_token = Bool(
        True,
        help="""Whether user servers hand the hub login's access token to notebook code and plugins (``get_token``,
        ``BrokerAuth``). False: only the egress uses it (needs a non-empty `egress`); the token route answers 403
        ``token_not_exposed``.""",
    ).tag(config=True)

    refresh_timeout_seconds = Float(
        10.0,
        help="""How long a token request waits for a refresh at the IdP before answering 503 with Retry-After.
        The refresh itself goes on (up to `refresh_request_timeout_seconds`) and its rotated refresh token is
        saved, so a slow IdP never costs the login.""",
    ).tag(config=True)

    refresh_request_timeout_seconds = Float(
        60.0,
        help="""The deadline of one refresh request to the IdP once connected. Longer than
        `refresh_timeout_seconds` on purpose: a refresh the IdP received must finish, or its rotated refresh
        token would be lost and the next refresh would be reuse (the IdP then revokes the login).""",
    ).tag(config=True)

    retry_after_seconds = Integer(
        5,
        help="""After a failed refresh (IdP down or timing out), answer 503 with this Retry-After for this many
        seconds without calling the IdP again for that user.""",
    ).tag(config=True)

    unknown_lifetime_seconds = Integer(
        300,
        help="""The lifetime assumed for an access token whose expiry the IdP did not say (no `expires_in`) and
        that is not a JWT with `exp`.""",
    ).tag(config=True)

    revocation_url = Unicode(
        "",
        help="""The IdP's RFC 7009 revocation endpoint, where an admin revocation sends the hub login's refresh
        token. Empty: the ``revocation_endpoint`` of the IdP's OpenID discovery document (issuer from the login's
        id token, ``{issuer}/.well-known/openid-configuration``), else of its RFC 8414 metadata
        (``/.well-known/oauth-authorization-server``). When none is found, the IdP step of a revocation is
        ``skipped``: the hub still forgets the tokens.""",
    ).tag(config=True)

    revocation_timeout_seconds = Float(
        10.0,
        help="""The deadline of one call to the IdP's revocation endpoint (or its discovery document). A call that
        fails or times out makes a revocation without ``force`` answer 503 and forget nothing.""",
    ).tag(config=True)

    revocation_retry_seconds = Float(
        30.0,
        help="""After a forced revocation whose IdP call failed, the hub retries that call in the background after
        this many seconds, doubling up to `revocation_retry_max_seconds`. The queue is kept (encrypted) in the
        user's auth_state, so a hub restart resumes it; each attempt is in the audit trail (``idp_retry``).""",
    ).tag(config=True)

    revocation_retry_max_seconds = Float(
        900.0,
        help="""The longest wait between two background retries of a queued IdP revocation.""",
    ).tag(config=True)

    revocation_retry_days = Float(
        30.0,
        help="""A queued IdP revocation is dropped (audited ``idp_retry`` with outcome ``error``) after this many days:
        the refresh token has expired at the IdP by then for most IdPs.""",
    ).tag(config=True)

    server_timeout_seconds = Float(
        5.0,
        help="""The deadline of a revocation sent to one running user server (at its internal URL). A server that
        does not answer in time gets an ``error`` step and a durable order it applies at its next start.""",
    ).tag(config=True)

    list_timeout_seconds = Float(
        0.8,
        help="""How long the admin list waits for the running servers' provider lists (asked in parallel). A server
        that has not answered by then is listed with ``error`` (``upstream_unavailable``); the list still answers.""",
    ).tag(config=True)

    audit_path = Unicode(
        "token-broker-audit.jsonl",
        help="""The hub-side audit trail: one JSON line per admin action (who, whom, what, outcome; never token
        material), created with mode 0600. Relative paths are in the hub's working directory. Empty: kept in
        memory only (`audit_memory_events`).""",
    ).tag(config=True)

    audit_memory_events = Integer(
        1000,
        help="""How many recent audit events ``GET admin/audit`` can answer (an in-memory ring, refilled from the end
        of `audit_path` at hub start).""",
    ).tag(config=True)

    @validate(
        "refresh_margin_seconds",
        "default_min_ttl",
        "retry_after_seconds",
        "unknown_lifetime_seconds",
        "audit_memory_events",
    )
    def _non_negative(self, proposal):
        if proposal["value"] < 0:
            raise ValueError(f"TokenBrokerHub.{proposal['trait'].name} must be >= 0, not {proposal['value']}")
        return proposal["value"]

    @validate("egress")
    def _egress_prefixes(self, proposal):
        for index, value in enumerate(proposal["value"]):
            problem = egress_prefix_problem(value)
            if problem is not None:
                raise ValueError(f"TokenBrokerHub.egress[{index}] {problem}")
        return proposal["value"]

    def announced_egress(self) -> dict:
        """The hub provider's egress options as ``JUPYTER_TOKEN_BROKER_HUB`` carries them (nothing when unset).

        :raises ValueError: for ``expose_token = False`` without an egress (the hub login could not be used at all)
        """
        if not self.expose_token and not self.egress:
            raise ValueError(
                "TokenBrokerHub.expose_token = False needs a non-empty TokenBrokerHub.egress: without one the hub "
                "login could not be used at all"
            )
        announced: dict = {}
        if self.egress:
            announced["egress"] = list(self.egress)
        if not self.expose_token:
            announced["expose_token"] = False
        return announced

    @validate(
        "refresh_timeout_seconds",
        "refresh_request_timeout_seconds",
        "revocation_timeout_seconds",
        "revocation_retry_seconds",
        "revocation_retry_max_seconds",
        "revocation_retry_days",
        "server_timeout_seconds",
        "list_timeout_seconds",
    )
    def _positive(self, proposal):
        if proposal["value"] <= 0:
            raise ValueError(f"TokenBrokerHub.{proposal['trait'].name} must be > 0, not {proposal['value']}")
        return proposal["value"]
