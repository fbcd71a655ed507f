"""Settings that would break the hub side are refused at hub start, with a message that names them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub_stack import Idp, free_port, start_hub, start_idp


@pytest.fixture(scope="module")
def idp_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    running = start_idp(tmp_path_factory.mktemp("refused-idp"))
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("setting", "options", "message"),
    [
        (
            "c.GenericOAuthenticator.enable_auth_state = False",
            {},
            "c.Authenticator.enable_auth_state must be True",
        ),
        ("", {"auth_refresh_age": 0}, "c.Authenticator.auth_refresh_age = 0 switches off"),
        (
            'c.JupyterHub.authenticator_class = "dummy"',
            {},
            "DummyAuthenticator keeps no OAuth tokens in auth_state; configure(c) needs an OAuthenticator",
        ),
        ("", {"configure": {"refresh_margin": 10}}, "configure(): unknown option 'refresh_margin'"),
        (
            "",
            {"configure": {"egress": ["https://archive.example.org/tap/", "http://archive.example.org/api/"]}},
            "TokenBrokerHub.egress[1] must be https (http only for 127.0.0.1, ::1 or localhost)",
        ),
        (
            "",
            {"configure": {"egress": ["https://archive.example.org/tap"]}},
            'TokenBrokerHub.egress[0] must end with "/"',
        ),
        (
            "c.TokenBrokerHub.expose_token = False",
            {},
            "TokenBrokerHub.expose_token = False needs a non-empty TokenBrokerHub.egress",
        ),
    ],
    ids=[
        "auth_state_off",
        "auth_refresh_age_0",
        "not_an_oauthenticator",
        "unknown_option",
        "egress_http_not_loopback",
        "egress_not_a_folder",
        "expose_token_without_egress",
    ],
)
def test_refused_setting_stops_the_hub_with_its_message(
    tmp_path: Path, idp_only: Idp, setting: str, options: dict, message: str
) -> None:
    hub = start_hub(
        tmp_path,
        idp_only,
        port=free_port(),
        extra_config=setting,
        wait=False,
        **{"configure": {}, **options},
    )
    try:
        code = hub.process.wait(60)
    finally:
        hub.stop()
    assert code != 0
    assert message in hub.log_text()
