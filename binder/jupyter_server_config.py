"""Jupyter server configuration of the demo: the token broker with one provider, the local demo IdP.

``packages/demo/start-demo.mjs`` (and Binder's ``start``) run the demo IdP and the demo API first and pass their
ports in ``DEMO_IDP_PORT`` / ``DEMO_API_PORT`` (ports only; no secret ever travels through the environment).
"""

import json
import os
from pathlib import Path
from tempfile import mkdtemp

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

DEMO_IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "9400"))
DEMO_API_URL = f"http://127.0.0.1:{int(os.environ.get('DEMO_API_PORT', '9401'))}"

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

# What an admin would put in overrides.json: the token broker's snippets and the example Archive Browser plugin
# call the demo API. A directory of its own, so no other JupyterLab on this machine is affected.
c.LabApp.app_settings_dir = mkdtemp(prefix="token-broker-demo-settings-")
(Path(c.LabApp.app_settings_dir) / "overrides.json").write_text(
    json.dumps(
        {
            "jupyter-token-broker:panel": {"snippetUrl": f"{DEMO_API_URL}/whoami"},
            "@jupyter-token-broker/archive-browser:plugin": {"apiUrl": DEMO_API_URL},
        }
    )
)
