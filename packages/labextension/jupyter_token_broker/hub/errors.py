"""The hub route's errors: a closed set with the broker's stable codes, never carrying token material."""

from __future__ import annotations


class HubTokenError(Exception):
    """A token request to the hub failed; ``code`` is stable, ``description`` is safe to show and to log."""

    status = 500
    code = "server_error"

    def __init__(self, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, str]:
        """The JSON error body: ``{"error", "error_description"}``."""
        return {"error": self.code, "error_description": self.description}


class InvalidRequest(HubTokenError):
    status = 400
    code = "invalid_request"


class LoginRequired(HubTokenError):
    """The hub login holds no OAuth tokens any more (never had them, or the IdP said ``invalid_grant``)."""

    status = 401
    code = "login_required"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} Log out of JupyterHub and log in again.")


class Forbidden(HubTokenError):
    status = 403
    code = "forbidden"


class UnknownUser(HubTokenError):
    status = 404
    code = "unknown_user"


class UpstreamUnavailable(HubTokenError):
    """The IdP could not be reached or timed out during a refresh; the hub login is kept."""

    status = 503
    code = "upstream_unavailable"


class Unauthorized(HubTokenError):
    """The request carries no hub authentication (no token, no login cookie)."""

    status = 401
    code = "unauthorized"


class NotFound(HubTokenError):
    status = 404
    code = "not_found"
