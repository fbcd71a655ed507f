"""Under a hub that runs configure(), a sign-in's redirect URI is the hub's single user-redirect URI."""

from jupyter_token_broker.hub_env import hub_callback_path

HUB = {"JUPYTERHUB_USER": "alice", "JUPYTER_TOKEN_BROKER_HUB": '{"version": 1}'}


def test_the_hub_user_redirect_path_under_a_configured_hub():
    assert hub_callback_path({**HUB, "JUPYTERHUB_BASE_URL": "/"}) == "/hub/user-redirect/token-broker/api/v1/callback"
    assert (
        hub_callback_path({**HUB, "JUPYTERHUB_BASE_URL": "/jh"}) == "/jh/hub/user-redirect/token-broker/api/v1/callback"
    )


def test_no_hub_path_without_configure_or_outside_a_hub():
    assert hub_callback_path({"JUPYTERHUB_USER": "alice", "JUPYTERHUB_BASE_URL": "/"}) is None
    assert hub_callback_path({}) is None
