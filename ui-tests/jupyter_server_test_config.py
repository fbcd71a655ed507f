"""Jupyter server configuration of the Galata tests: Galata's test set-up plus the token broker and the demo IdP.

``packages/demo/start-demo.mjs`` passes the test stack's ports, free ones that ``playwright.config.ts`` picked, in
``DEMO_IDP_PORT`` / ``DEMO_JUPYTER_PORT`` and the demo API's URL in ``DEMO_API_URL``; there are no defaults, so
a fixed port can never creep back in (this file is only used through the launcher).
Galata switches authentication and XSRF checks off; we keep both on, as in any real deployment: the token broker's
state-changing routes rely on XSRF checks, and the kernel helper authenticates with the server's token. JupyterLab
generates that token itself and writes it to its 0600 runtime file, where ``tests/jupyterAuth.ts`` reads it.
"""

import json
import os
from pathlib import Path
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

configure_jupyter_server(c)

c.ServerApp.port = int(os.environ["DEMO_JUPYTER_PORT"])
c.ServerApp.disable_check_xsrf = False
c.IdentityProvider.pop("token", None)  # back to Jupyter's own random token
c.ServerApp.jpserver_extensions = {"jupyter_token_broker": True}

DEMO_ISSUER = f"http://127.0.0.1:{int(os.environ['DEMO_IDP_PORT'])}"
DEMO_API_URL = os.environ["DEMO_API_URL"]

c.TokenBroker.providers = [
    {
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": DEMO_ISSUER,
        "client_id": "jupyter-demo",
        "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        # The demo IdP (oidc-provider) keeps a refresh token's scope on a narrowed refresh (RFC 6749 §6), so a
        # plugin or notebook may ask a subset of scopes (README "Narrowed tokens"; the default refuses).
        "narrowing": "refresh",
    },
    # The same IdP, through a client that gets no refresh tokens (as JupyterHub as an OAuth provider): its
    # sign-in needs renewing once its one-minute access token expires (the broker's `needs_login`).
    {
        "id": "session",
        "title": "Session-only IdP",
        "kind": "oidc",
        "issuer": DEMO_ISSUER,
        "client_id": "jupyter-demo-no-refresh",
        "scopes": ["openid", "profile", "demo:read"],
    },
]
c.TokenBroker.store = {"type": "memory"}

# Settings an admin would set in overrides.json: the token broker's snippets and the example Archive Browser
# plugin call this stack's demo API.
# A fresh app settings directory, so the demo's own environment is left alone.
c.LabApp.app_settings_dir = mkdtemp(prefix="token-broker-ui-tests-settings-")
(Path(c.LabApp.app_settings_dir) / "overrides.json").write_text(
    json.dumps(
        {
            "jupyter-token-broker:panel": {"snippetUrl": f"{DEMO_API_URL}/whoami"},
            "@jupyter-token-broker/archive-browser:plugin": {"apiUrl": DEMO_API_URL},
        }
    )
)
