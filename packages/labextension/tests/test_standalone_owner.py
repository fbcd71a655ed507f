"""The owner check of a server without JupyterHub whose identity provider lets in several people (issue 11, defect
12): it used to serve every authenticated person as the owner. Now the broker is not started until
``c.TokenBroker.owner`` names the owner, and then anyone else gets 403; against a real jupyter-server and broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_token_broker.config import ConfigError
from jupyter_token_broker.owner import decide_owner

from fixtures.team_users import TOKENS
from jupyter_process import JupyterServer, free_ports, start_server, wait_until

ALICE = next(token for token, name in TOKENS.items() if name == "alice")
MALLORY = next(token for token, name in TOKENS.items() if name == "mallory")
TEAM_LOGIN = 'c.ServerApp.identity_provider_class = "team_users.TeamIdentityProvider"\n'
# A provider whose issuer nobody answers: the broker starts and lists it with its problem, no IdP needed.
PROVIDERS = [
    {
        "id": "demo",
        "title": "Demo",
        "client_id": "jupyter-demo",
        "scopes": ["openid"],
        "issuer": f"http://127.0.0.1:{free_ports(1)[0]}",
    }
]


def answers(server: JupyterServer, token: str) -> tuple:
    with server.token_client(token) as client:
        return client.get(server.api("providers")), client.post(server.api("providers/demo/token"), json={})


def test_without_an_owner_a_multi_user_login_starts_no_broker_and_names_the_setting(tmp_path: Path) -> None:
    server = start_server(tmp_path, free_ports(1)[0], PROVIDERS, config_extra=TEAM_LOGIN, wait_for_broker=False)
    try:
        wait_until(lambda: "not started" in server.log_text(), 30, what="the refusal in the log")
        for token in (ALICE, MALLORY, server.token):
            for answer in answers(server, token):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"] == "config_error"
                assert "TokenBroker.owner" in answer.json()["error_description"]
                assert "team_users.TeamIdentityProvider" in answer.json()["error_description"]
        assert server.broker_pids() == []
        (refusal,) = [line for line in server.log_text().splitlines() if "token-broker: not started:" in line]
        assert "set c.TokenBroker.owner" in refusal
    finally:
        server.stop()


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory):
    running = start_server(
        tmp_path_factory.mktemp("team"),
        free_ports(1)[0],
        PROVIDERS,
        config_extra=TEAM_LOGIN + 'c.TokenBroker.owner = "alice"\n',
    )
    yield running
    running.stop()


def test_with_an_owner_a_second_identity_gets_403(team_server: JupyterServer) -> None:
    for answer in answers(team_server, MALLORY):
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "forbidden"
    listed, _ = answers(team_server, ALICE)
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["providers"]] == ["demo"]
    assert "refused: not the server's owner" in team_server.log_text()


def test_with_an_owner_the_servers_own_token_that_kernels_use_is_the_owners(team_server: JupyterServer) -> None:
    # The identity provider gives the server's token a random name; it is the owner's credential all the same.
    listed, _ = answers(team_server, team_server.token)
    assert listed.status_code == 200, listed.text
    with team_server.token_client("not-a-token-of-this-server") as client:
        assert client.get(team_server.api("providers")).status_code == 403


def test_an_owner_that_no_login_could_match_or_that_contradicts_the_hub_is_refused() -> None:
    from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider  # noqa: PLC0415

    for provider in (IdentityProvider(), PasswordIdentityProvider()):
        with pytest.raises(ConfigError, match=r"TokenBroker\.owner: Jupyter's own identity provider"):
            decide_owner("alice", provider, environ={})
    with pytest.raises(ConfigError, match=r"TokenBroker\.owner: is 'bob' but this server belongs to JupyterHub user"):
        decide_owner("bob", IdentityProvider(), environ={"JUPYTERHUB_USER": "alice"})
    assert decide_owner("alice", IdentityProvider(), environ={"JUPYTERHUB_USER": "alice"}).name == "alice"
