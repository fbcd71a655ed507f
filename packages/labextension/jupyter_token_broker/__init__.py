"""jupyter_token_broker: a per-user OAuth/OIDC token broker for JupyterLab and JupyterHub.

In a kernel::

    from jupyter_token_broker import BrokerAuth, auth_header, get_token

    requests.get(url, auth=BrokerAuth("demo"))          # or httpx.get(url, auth=BrokerAuth("demo"))
    urllib.request.Request(url, headers=auth_header("demo"))
    token = get_token("demo")                           # the bare access token

    # or let the broker add the token on its side: it never enters the kernel
    from jupyter_token_broker import BrokerTransport, broker_session

    broker_session("archive").get(url).json()           # a requests.Session through the broker's egress
    httpx.Client(transport=BrokerTransport("archive"))  # the same for httpx (AsyncBrokerTransport for async)

Importing this package is cheap: the kernel helper uses only the standard library, ``BrokerAuth`` and the
egress names import ``requests``/``httpx`` when they are first used, and the Jupyter server extension (which
needs jupyter_server and tornado) is imported only when the server loads it.
"""

from __future__ import annotations

from typing import Any

from .errors import LoginRequired, TokenBrokerError
from .kernel import auth_header, get_token

__version__ = "0.1.0"

__all__ = [
    "AsyncBrokerTransport",
    "BrokerAuth",
    "BrokerTransport",
    "LoginRequired",
    "TokenBrokerError",
    "__version__",
    "auth_header",
    "broker_session",
    "get_token",
]

_EGRESS_NAMES = frozenset(("AsyncBrokerTransport", "BrokerTransport", "broker_session"))


def __getattr__(name: str) -> Any:
    """``BrokerAuth`` and the egress names on first use, so that importing the package never imports requests or
    httpx."""
    if name == "BrokerAuth":
        from .http_auth import BrokerAuth  # noqa: PLC0415

        return BrokerAuth
    if name in _EGRESS_NAMES:
        from . import egress_session  # noqa: PLC0415

        return getattr(egress_session, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt lab extension lives in this package (used by `jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "jupyter-token-broker"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension's entry point; imports jupyter_server only now, never in a kernel."""
    from .extension import TokenBrokerApp  # noqa: PLC0415

    return [{"module": "jupyter_token_broker", "app": TokenBrokerApp}]
