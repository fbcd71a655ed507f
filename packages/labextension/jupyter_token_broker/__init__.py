"""jupyter_token_broker: a per-user OAuth/OIDC token broker for JupyterLab and JupyterHub.

In a kernel::

    from jupyter_token_broker import get_token
    headers = {"Authorization": f"Bearer {get_token('demo')}"}

Importing this package is cheap: the kernel helper uses only the standard library, and the Jupyter server
extension (which needs jupyter_server, tornado and httpx) is imported only when the server loads it.
"""

from __future__ import annotations

from typing import Any

from .errors import LoginRequired, TokenBrokerError
from .kernel import get_token

__version__ = "0.1.0"

__all__ = ["LoginRequired", "TokenBrokerError", "__version__", "get_token"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt lab extension lives in this package (used by `jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "jupyter-token-broker"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension's entry point; imports jupyter_server only now, never in a kernel."""
    from .extension import TokenBrokerApp  # noqa: PLC0415

    return [{"module": "jupyter_token_broker", "app": TokenBrokerApp}]
