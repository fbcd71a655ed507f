"""Jupyter server configuration of the demo: the token broker with one provider, the local demo IdP.

``packages/demo/start-demo.mjs`` (and Binder's ``start``) run the demo IdP and the demo API first and pass their
ports in ``DEMO_IDP_PORT`` / ``DEMO_API_PORT`` (ports only; no secret ever travels through the environment).
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

DEMO_IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "9400"))

c.ServerApp.jpserver_extensions = {"jupyter_token_broker": True}

c.TokenBroker.providers = [
    {
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": f"http://127.0.0.1:{DEMO_IDP_PORT}",
        "client_id": "jupyter-demo",
        "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
    }
]
c.TokenBroker.store = {"type": "memory"}
