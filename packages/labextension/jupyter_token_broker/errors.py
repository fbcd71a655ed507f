"""The errors the kernel helper raises, with the broker's stable error codes."""

from __future__ import annotations

import json
import os


class TokenBrokerError(Exception):
    """A token request failed.

    Branch on ``code`` (the broker's stable error code, e.g. ``"upstream_unavailable"``) or ``status`` (the
    HTTP status, 0 when the Jupyter server could not be reached), never on the message text.
    """

    def __init__(self, code: str, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.status = status
        self.description = description
        #: Seconds to wait before trying again (the answer's ``Retry-After``), when the failure is temporary.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, description={self.description!r})"


def hub_provider_id() -> str | None:
    """The id of the JupyterHub login's provider, when the hub announces one (``JUPYTER_TOKEN_BROKER_HUB``)."""
    try:
        announced = json.loads(os.environ.get("JUPYTER_TOKEN_BROKER_HUB") or "null")
    except ValueError:
        return None
    if not isinstance(announced, dict):
        return None
    provider = announced.get("provider_id", "hub")
    return provider if isinstance(provider, str) else None


class LoginRequired(TokenBrokerError):
    """The provider has no grant for this user: sign in from the Token Broker panel in JupyterLab (or, for the
    JupyterHub login's provider, log in to JupyterHub again)."""

    def __init__(self, provider: str, status: int = 401) -> None:
        if provider == hub_provider_id():
            description = (
                f"Provider {provider!r} is your JupyterHub login, which has ended: log in to JupyterHub again, "
                "then retry."
            )
        else:
            description = f"Provider {provider!r} needs a login: open the Token Broker panel in JupyterLab and sign in."
        super().__init__("login_required", status, description)
        self.provider = provider
