"""The errors the kernel helper raises, with the broker's stable error codes."""

from __future__ import annotations


class TokenBrokerError(Exception):
    """A token request failed.

    Branch on ``code`` (the broker's stable error code, e.g. ``"upstream_unavailable"``) or ``status`` (the
    HTTP status, 0 when the Jupyter server could not be reached), never on the message text.
    """

    def __init__(self, code: str, status: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.status = status
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, description={self.description!r})"


class LoginRequired(TokenBrokerError):
    """The provider has no grant for this user: sign in from the Token Broker panel in JupyterLab."""

    def __init__(self, provider: str, status: int = 401) -> None:
        super().__init__(
            "login_required",
            status,
            f"Provider {provider!r} needs a login: open the Token Broker panel in JupyterLab and sign in.",
        )
        self.provider = provider
