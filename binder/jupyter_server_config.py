"""Jupyter server configuration of the demo: the token broker with one provider, the local demo IdP.

``packages/demo/start-demo.mjs`` (and Binder's ``start``) run the demo IdP and the demo API first and pass their
ports in ``DEMO_IDP_PORT`` / ``DEMO_API_PORT`` (ports only; no secret ever travels through the environment).

With ``DEMO_VIA_JUPYTER=1`` (Binder's ``start`` sets it) the browser reaches both only through this server
(jupyter-server-proxy): it signs in at ``{base_url}proxy/absolute/<idp port>/auth`` and the Archive Browser calls
``{base_url}proxy/<api port>/items``, while the broker and the kernels keep using 127.0.0.1 (``binder/README.md``).
"""

import json
import os
from pathlib import Path
from tempfile import mkdtemp

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

DEMO_IDP_PORT = int(os.environ.get("DEMO_IDP_PORT", "9400"))
DEMO_API_PORT = int(os.environ.get("DEMO_API_PORT", "9401"))
DEMO_API_URL = f"http://127.0.0.1:{DEMO_API_PORT}"
VIA_JUPYTER = os.environ.get("DEMO_VIA_JUPYTER") == "1"

c.ServerApp.jpserver_extensions = {
    "jupyter_token_broker": True,
    "jupyter_server_proxy": VIA_JUPYTER,
}

c.TokenBroker.providers = [
    {
        "id": "demo",
        "title": "Demo IdP",
        "kind": "oidc",
        "issuer": f"http://127.0.0.1:{DEMO_IDP_PORT}",
        "client_id": "jupyter-demo",
        "scopes": ["openid", "profile", "email", "offline_access", "demo:read"],
        # The demo IdP (oidc-provider) keeps a refresh token's scope on a narrowed refresh (RFC 6749 §6), so a
        # plugin or notebook may ask a subset of scopes (README "Narrowed tokens"; the default refuses).
        "narrowing": "refresh",
        # The egress: broker_session("demo") calls the demo API through the broker, which adds the token, so the
        # token never enters the kernel. expose_token stays true (the default): get_token and BrokerAuth work too.
        "egress": [f"{DEMO_API_URL}/"],
    }
]
if VIA_JUPYTER:
    # Where the browser signs in: the IdP through this server's proxy, relative to the server's public URL
    # (the broker itself still reads discovery, tokens and keys at the issuer on 127.0.0.1).
    c.TokenBroker.providers[0]["browser_authorization_endpoint"] = (
        f"proxy/absolute/{DEMO_IDP_PORT}/auth"
    )
c.TokenBroker.store = {"type": "memory"}

# What an admin would put in overrides.json: the token broker's snippets and the example Archive Browser plugin
# call the demo API. A directory of its own, so no other JupyterLab on this machine is affected.
c.LabApp.app_settings_dir = mkdtemp(prefix="token-broker-demo-settings-")
(Path(c.LabApp.app_settings_dir) / "overrides.json").write_text(
    json.dumps(
        {
            "jupyter-token-broker:panel": {"snippetUrl": f"{DEMO_API_URL}/whoami"},
            # The browser calls the API; through this server's proxy when that is all it can reach.
            "@jupyter-token-broker/archive-browser:plugin": {
                "apiUrl": f"proxy/{DEMO_API_PORT}" if VIA_JUPYTER else DEMO_API_URL
            },
        }
    )
)
