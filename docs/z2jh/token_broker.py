# jupyter-token-broker, hub side: every user server gets fresh access tokens of the user's hub login.
#
# This file is verbatim the `hub.extraConfig.tokenBroker` of docs/z2jh/values.yaml (a test checks it), and the
# demo hub (packages/demo/hub/jupyterhub_config.py) and the end-to-end test hub run it as it is. It goes at the
# end of jupyterhub_config.py, after the authenticator is configured (enable_auth_state on).
from jupyter_token_broker.hub import configure

configure(c)  # noqa: F821 (c is the config object of jupyterhub_config.py)
