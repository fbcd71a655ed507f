"""Config mistakes are caught at server start and explained (issue 7, item 5), against a real jupyter-server and the
real broker: a static mistake (a key typo, an unknown kind) is refused once with one clear log line, the broker is never
launched nor restarted, and every broker route answers the same 503 ``config_error``; a provider that cannot work (an
issuer nobody answers, a missing or 0644 client secret file) is logged at start and reported on that provider in
``GET providers``, never as a 500 and never a local file as a network problem.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from jupyter_token_broker.configcheck import parse_check_output

from jupyter_process import JupyterServer, free_ports, start_server, wait_until


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    return free_ports(1)[0]


BASE = {"title": "Demo", "client_id": "jupyter-demo", "scopes": ["openid"]}


@pytest.fixture(scope="module")
def broken_providers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three providers that cannot work, each for its own reason, and the server running them."""
    secrets = tmp_path_factory.mktemp("secrets")
    missing = secrets / "missing-secret"
    too_open = secrets / "open-secret"
    too_open.write_text("s3cr3t-value\n")
    too_open.chmod(0o644)
    port = closed_port()
    providers = [
        {**BASE, "id": "gone", "issuer": f"http://127.0.0.1:{port}"},
        {**BASE, "id": "nofile", "issuer": f"http://127.0.0.1:{port}", "client_secret_file": str(missing)},
        {**BASE, "id": "open", "issuer": f"http://127.0.0.1:{port}", "client_secret_file": str(too_open)},
    ]
    server = start_server(tmp_path_factory.mktemp("broken-providers"), free_ports(1)[0], providers)
    yield {"server": server, "port": port, "missing": missing, "open": too_open}
    server.stop()


def providers_by_id(server: JupyterServer) -> dict[str, dict]:
    with server.token_client() as client:
        answer = client.get(server.api("providers"))
    assert answer.status_code == 200, answer.text
    return {entry["id"]: entry for entry in answer.json()["providers"]}


def test_each_broken_provider_is_logged_at_start_with_its_own_reason(broken_providers: dict) -> None:
    server: JupyterServer = broken_providers["server"]
    log = server.log_text()
    discovery = f"http://127.0.0.1:{broken_providers['port']}/.well-known/openid-configuration"
    (gone,) = [line for line in log.splitlines() if "provider 'gone' will not work" in line]
    assert discovery in gone
    assert "ECONNREFUSED" in gone
    (nofile,) = [line for line in log.splitlines() if "provider 'nofile' will not work" in line]
    assert f"({broken_providers['missing']}) does not exist" in nofile
    assert "(config_error)" in nofile
    (too_open,) = [line for line in log.splitlines() if "provider 'open' will not work" in line]
    assert "mode 644); chmod 600 it" in too_open
    assert "s3cr3t-value" not in log
    assert "token-broker: token-broker:" not in log


def test_the_provider_list_reports_each_problem_on_its_provider(broken_providers: dict) -> None:
    server: JupyterServer = broken_providers["server"]
    problems = {id_: entry["error"] for id_, entry in providers_by_id(server).items() if "error" in entry}
    assert problems["gone"]["code"] == "upstream_unavailable"
    discovery = f"127.0.0.1:{broken_providers['port']}/.well-known/openid-configuration"
    assert discovery in problems["gone"]["description"]
    assert "ECONNREFUSED" in problems["gone"]["description"]
    # A local file is never blamed on the network.
    assert problems["nofile"]["code"] == "config_error"
    assert problems["nofile"]["description"].endswith(f"({broken_providers['missing']}) does not exist.")
    assert problems["open"]["code"] == "config_error"
    assert "chmod 600 it" in problems["open"]["description"]


@pytest.mark.parametrize("provider", ["nofile", "open"])
def test_a_bad_secret_file_gets_the_same_clear_503_every_time_never_a_500(
    broken_providers: dict, provider: str
) -> None:
    server: JupyterServer = broken_providers["server"]
    with server.token_client() as client:
        answers = []
        for _ in range(3):
            answers.append(client.post(server.api(f"providers/{provider}/login"), json={}))
            time.sleep(0.2)
    assert [a.status_code for a in answers] == [503, 503, 503]
    bodies = [a.json() for a in answers]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["error"] == "config_error"
    assert "Retry-After" not in answers[0].headers


STATIC_MISTAKES = {
    "key typo": (
        {"id": "demo", "issuer": "https://idp.example.org", "clinet_id": "jupyter-demo", "scopes": ["openid"]},
        'config: provider "demo": clinet_id: is not an option of kind "oidc"; did you mean "client_id"?',
    ),
    "unknown kind": (
        {**BASE, "id": "demo", "kind": "odic", "issuer": "https://idp.example.org"},
        'config: provider "demo": kind: must be one of "oidc",',
    ),
}


@pytest.mark.parametrize("mistake", STATIC_MISTAKES)
def test_a_static_mistake_is_refused_once_and_the_broker_is_never_started_nor_restarted(
    tmp_path: Path, mistake: str
) -> None:
    provider, message = STATIC_MISTAKES[mistake]
    server = start_server(tmp_path, free_ports(1)[0], [provider], wait_for_broker=False)
    try:
        wait_until(lambda: "not started" in server.log_text(), 30, what="the refusal in the log")
        with server.token_client() as client:
            first = client.get(server.api("providers"))
            # Long enough for today's restart backoff (0.5 s, 1 s, 2 s, ...) to launch the broker again.
            time.sleep(4)
            second = client.get(server.api("providers"))
            token = client.post(server.api("providers/demo/token"), json={})
        for answer in (first, second, token):
            assert answer.status_code == 503
            assert answer.json()["error"] == "config_error"
            assert message in answer.json()["error_description"]
            assert "restart the server" in answer.json()["error_description"]
            assert "Retry-After" not in answer.headers
        assert first.json() == second.json()
        assert server.broker_pids() == []
        log = server.log_text()
        refusals = [line for line in log.splitlines() if "token-broker: not started:" in line]
        assert len(refusals) == 1, refusals
        assert message in refusals[0]
        assert not re.search(r"restarting in|ready \(version", log)
        assert "token-broker: token-broker:" not in log
    finally:
        server.stop()


def test_a_secret_in_the_extension_config_is_refused_naming_the_provider(tmp_path: Path) -> None:
    provider = {**BASE, "id": "demo", "issuer": "https://idp.example.org", "client_secret": "s3cr3t-value"}
    server = start_server(tmp_path, free_ports(1)[0], [provider], wait_for_broker=False)
    try:
        wait_until(lambda: "not started" in server.log_text(), 30, what="the refusal in the log")
        with server.token_client() as client:
            answer = client.get(server.api("providers"))
        assert answer.status_code == 503
        assert answer.json()["error"] == "config_error"
        assert "providers[0] ('demo').client_secret" in answer.json()["error_description"]
        assert "s3cr3t-value" not in server.log_text()
        assert server.broker_pids() == []
    finally:
        server.stop()


def test_only_a_static_refusal_stops_the_broker_a_store_that_does_not_answer_is_retried() -> None:
    static = parse_check_output(b'{"ok":false,"error":"config_error","error_description":"config: x: bad"}\n', b"")
    assert static.refusal == "config: x: bad"
    store = parse_check_output(
        b'{"ok":false,"error":"store_unavailable","error_description":"no Secret Service"}\n',
        b"token-broker: store_unavailable: no Secret Service\n",
    )
    assert store.refusal is None
    assert store.note == "store_unavailable: no Secret Service"
    crashed = parse_check_output(b"", b"token-broker: something broke\n")
    assert (crashed.refusal, crashed.note) == (None, "something broke")
