"""Jupyter server configuration of the Galata tests: Galata's test set-up plus the token broker and the demo IdP.

``packages/demo/start-demo.mjs`` passes the test stack's ports in ``DEMO_IDP_PORT`` / ``DEMO_JUPYTER_PORT``.
Galata switches authentication and XSRF checks off; we keep both on, as in any real deployment: the token broker's
state-changing routes rely on XSRF checks, and the kernel helper authenticates with the server's token. JupyterLab
generates that token itself and writes it to its 0600 runtime file, where ``tests/jupyterAuth.ts`` reads it.
"""

import os

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

configure_jupyter_server(c)

c.ServerApp.port = int(os.environ.get("DEMO_JUPYTER_PORT", "8890"))
c.ServerApp.disable_check_xsrf = False
c.IdentityProvider.pop("token", None)  # back to Jupyter's own random token
c.ServerApp.jpserver_extensions = {"jupyter_token_broker": True}

c.TokenBroker.providers = [
    {
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": f"http://127.0.0.1:{int(os.environ.get('DEMO_IDP_PORT', '9410'))}",
        "client_id": "jupyter-demo",
        "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
    }
]
c.TokenBroker.store = {"type": "memory"}
