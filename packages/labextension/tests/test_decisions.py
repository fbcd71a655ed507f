"""The small decisions behind the extension and the kernel helper, one behaviour each."""

from __future__ import annotations

import os

import pytest

from jupyter_token_broker import LoginRequired, TokenBrokerError
from jupyter_token_broker.config import ConfigError, TokenBroker
from jupyter_token_broker.discovery import ServerInfo, ancestor_pids, from_jupyterhub_env, parent_pid
from jupyter_token_broker.handlers import has_dot_segment
from jupyter_token_broker.identity import client_label, owner_name
from jupyter_token_broker.owner import Owner, decide_owner
from jupyter_token_broker.supervisor import Backoff, minimal_environment, parse_ready_line


def test_standalone_with_jupyters_own_login_every_authenticated_user_is_the_owner() -> None:
    from jupyter_server.auth.identity import IdentityProvider  # noqa: PLC0415

    owner = decide_owner(None, IdentityProvider(), environ={})
    assert owner.admits("8676bec1f020")
    assert not owner.admits(None)


def test_under_jupyterhub_only_jupyterhub_user_is_the_owner() -> None:
    owner = decide_owner(None, object(), environ={"JUPYTERHUB_USER": "alice"})
    assert owner == Owner("alice")
    assert owner.admits("alice")
    assert not owner.admits("mallory")
    assert owner_name(environ={"JUPYTERHUB_USER": "alice"}) == "alice"


def test_client_label_falls_back_to_jupyterlab_when_invalid() -> None:
    assert client_label("kernel") == "kernel"
    assert client_label("@my-org/plugin:archive") == "@my-org/plugin:archive"
    assert client_label("bad label\r\nX-Broker-Key: x") == "jupyterlab"
    assert client_label("x" * 129) == "jupyterlab"
    assert client_label(None) == "jupyterlab"


def test_dot_segments_are_recognised() -> None:
    assert has_dot_segment("providers/../metrics")
    assert has_dot_segment("providers/%2E%2e/metrics")
    assert not has_dot_segment("providers/demo/token")


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=4, stable=60)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]
    assert backoff.is_stable(61)
    assert not backoff.is_stable(5)


def test_broker_environment_is_an_allow_list() -> None:
    env = {"PATH": "/bin", "HOME": "/h", "LANG": "C", "JUPYTERHUB_API_TOKEN": "secret", "AWS_SECRET": "x"}
    assert minimal_environment(env) == {"PATH": "/bin", "HOME": "/h", "LANG": "C"}


def test_only_the_ready_line_counts_as_ready() -> None:
    assert parse_ready_line(b'{"ready":true,"version":"0.1.0","pid":1,"socket":"/s"}\n')
    assert parse_ready_line(b'{"ready":false}\n') is None
    assert parse_ready_line(b"ready\n") is None


def test_process_ancestry_is_read_from_proc() -> None:
    assert parent_pid(os.getpid()) == os.getppid()
    assert ancestor_pids(os.getpid())[0] == os.getppid()
    chain = {10: 7, 7: 3, 3: 1}
    assert ancestor_pids(10, parent=chain.get) == [7, 3]


def test_jupyterhub_variables_locate_the_single_user_server() -> None:
    info = from_jupyterhub_env(
        {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/user/alice/"}
    )
    assert info == ServerInfo(url="http://127.0.0.1:8888/user/alice/", token="t")
    assert repr(info) == "ServerInfo(url='http://127.0.0.1:8888/user/alice/', token=<hidden>)"
    assert from_jupyterhub_env({}) is None


def test_login_required_names_the_provider() -> None:
    err = LoginRequired("demo")
    assert isinstance(err, TokenBrokerError)
    assert (err.code, err.status, err.provider) == ("login_required", 401, "demo")
    assert "Provider 'demo' needs a login" in str(err)


def test_config_refuses_secrets_and_bad_ids_naming_the_key(tmp_path) -> None:
    script = tmp_path / "broker.mjs"
    script.write_text("")
    with pytest.raises(ConfigError, match=r"providers\[0\] \('demo'\)\.client_secret"):
        TokenBroker(providers=[{"id": "demo", "client_secret": "s"}], broker_script=str(script)).validate()
    with pytest.raises(ConfigError, match=r"providers\[1\]\.id"):
        TokenBroker(providers=[{"id": "ok"}, {"id": "Not OK"}], broker_script=str(script)).validate()
