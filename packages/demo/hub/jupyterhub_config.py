"""JupyterHub configuration of the hub demo (``make demo``, ``packages/demo/start-hub-demo.mjs``).

A real JupyterHub with configurable-http-proxy, GenericOAuthenticator against the demo IdP (its confidential client
``jupyterhub``) and SimpleLocalProcessSpawner; then ``docs/z2jh/token_broker.py``, the same fragment that
``docs/z2jh/values.yaml`` puts in ``hub.extraConfig``, so every notebook gets the hub login's tokens.

The launcher passes ports and paths only (``DEMO_*``); the client secret and the ``auth_state`` key are read from
0600 files in the demo's state directory (``.demo/hub``, git-ignored), never from the environment: JupyterHub starts
configurable-http-proxy with a copy of its own environment.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

REPO_DIR = Path(__file__).resolve().parents[3]
STATE_DIR = Path(os.environ["DEMO_HUB_STATE_DIR"])
HUB_PORT = int(os.environ.get("DEMO_HUB_PORT", "8000"))
HUB_URL = f"http://127.0.0.1:{HUB_PORT}"
ISSUER = os.environ["DEMO_IDP_ISSUER"]

# --- the hub: public port for the browser, internal ports chosen by the launcher ------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = HUB_PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["DEMO_HUB_API_PORT"])
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ['DEMO_PROXY_API_PORT'])}"
)
c.ConfigurableHTTPProxy.command = [
    str(REPO_DIR / "node_modules" / ".bin" / "configurable-http-proxy")
]
c.ConfigurableHTTPProxy.pid_file = str(STATE_DIR / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.allow_named_servers = True
c.CryptKeeper.keys = [(STATE_DIR / "crypt-key").read_text().strip()]

# --- the login: GenericOAuthenticator against the demo IdP ------------------------------------------------------
# The demo IdP's access tokens are JWTs for the demo API (not for its userinfo endpoint), so the user comes from
# the ID token, as with a hub whose IdP issues API-audience tokens.
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.login_service = "Demo IdP"
c.GenericOAuthenticator.client_id = "jupyterhub"
c.GenericOAuthenticator.client_secret = (
    (STATE_DIR / "hub-client-secret").read_text().strip()
)
c.GenericOAuthenticator.oauth_callback_url = f"{HUB_URL}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = f"{ISSUER}/auth"
c.GenericOAuthenticator.token_url = f"{ISSUER}/token"
c.GenericOAuthenticator.userdata_from_id_token = True
# demo:read: the access tokens are good for the demo API (its GET /items wants that scope).
c.GenericOAuthenticator.scope = [
    "openid",
    "profile",
    "email",
    "offline_access",
    "demo:read",
]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.allow_all = True
c.GenericOAuthenticator.enable_auth_state = True

# --- the users' servers: JupyterLab in .demo/hub/home/<user>, with the token broker -----------------------------
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE_DIR / "home" / "{username}")
c.Spawner.default_url = "/lab"
c.Spawner.args = [
    f"--config={REPO_DIR / 'packages' / 'demo' / 'hub' / 'jupyter_server_config.py'}",
    # Containers and CI machines often run as root; Jupyter refuses that unless told.
    *(["--allow-root"] if os.getuid() == 0 else []),
]
# Ports and paths for the user servers' config (no secret): the demo API for the snippets, the state directory.
c.Spawner.environment = {
    "DEMO_API_URL": os.environ["DEMO_API_URL"],
    "DEMO_HUB_STATE_DIR": str(STATE_DIR),
}

# --- jupyter-token-broker: the same fragment as docs/z2jh/values.yaml's hub.extraConfig.tokenBroker ----------------
exec((REPO_DIR / "docs" / "z2jh" / "token_broker.py").read_text())  # noqa: S102 (our own file, as z2jh runs it)
# The hub login's egress: notebooks call the demo API through their server's broker without ever holding the
# token (broker_session("hub")). expose_token stays True (the default): get_token("hub") and BrokerAuth work too.
c.TokenBrokerHub.egress = [f"{os.environ['DEMO_API_URL']}/"]
