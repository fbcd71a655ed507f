"""``jupyter token-broker-admin`` against a real hub, run as an admin runs it (the console script, a 0600 token
file): the list shows alice and bob, revoking alice prints each step's outcome and exits 0 (her hub login then
needs a new login, bob's does not), a token without ``custom:token-broker:admin`` exits 3 saying so, the audit
trail shows the revocation, and the token is in no output."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hub_stack import VENV_BIN, Hub, Idp, login, start_stack

TOKEN_SCOPE = "custom:token-broker:token!user"
ADMIN_SERVICES = """
import secrets
for name, scopes in (
    ("cli-admin", ["custom:token-broker:admin"]),
    ("cli-admin-bob", ["custom:token-broker:admin!user=bob"]),
):
    token = secrets.token_hex(32)
    path = os.path.join(settings["dir"], name + "-token")
    with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
        f.write(token)
    c.JupyterHub.services.append({"name": name, "api_token": token})
    c.JupyterHub.load_roles.append({"name": name, "scopes": scopes, "services": [name]})
"""


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, Hub]]:
    idp, hub = start_stack(
        tmp_path_factory.mktemp("admin-cli"),
        access_token_ttl=60,
        configure={"refresh_timeout_seconds": 2.0, "revocation_timeout_seconds": 2.0},
        extra_config=ADMIN_SERVICES,
    )
    yield idp, hub
    hub.stop()
    idp.stop()


@pytest.fixture(scope="module")
def hub(stack: tuple[Idp, Hub]) -> Hub:
    return stack[1]


@pytest.fixture(scope="module")
def people(hub: Hub) -> dict[str, str]:
    """alice (with her default server running) and bob logged in; the tokens their servers would hold."""
    for name in ("alice", "bob"):
        login(hub, name)
    hub.start_server("alice")
    hub.use_broker("alice")  # its broker starts on first use
    return {name: hub.user_token(name, [TOKEN_SCOPE]) for name in ("alice", "bob")}


def token_file(hub: Hub, name: str, token: str | None = None) -> Path:
    """A 0600 file holding ``token`` (default: the service ``name``'s token the hub config wrote)."""
    path = hub.workdir / f"{name}-token"
    if token is not None:
        path.write_text(token + "\n")
        path.chmod(0o600)
    return path


def cli(hub: Hub, *argv: str, file: Path) -> Ran:
    """Runs ``jupyter token-broker-admin ARGV --hub-url … --token-file FILE`` as a person would, stdin closed."""
    env = {"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(hub.workdir)}
    done = subprocess.run(
        [str(VENV_BIN / "jupyter"), "token-broker-admin", *argv, "--hub-url", hub.url, "--token-file", str(file)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    ran = Ran(done.returncode, done.stdout, done.stderr)
    token = file.read_text().strip()
    assert token not in ran.out
    assert token not in ran.err
    return ran


def test_list_shows_alice_and_bob_with_their_hub_logins(hub: Hub, people: dict[str, str]) -> None:
    ran = cli(hub, "list", file=token_file(hub, "cli-admin"))
    assert ran.code == 0, ran.err
    rows = {line.split()[0]: line for line in ran.out.splitlines()[1:-1] if line.strip() and not line.startswith(" ")}
    assert {"alice", "bob"} <= set(rows)
    assert "(default)" in rows["alice"]
    assert "hub: alice" in rows["alice"], ran.out
    assert rows["bob"].split()[1] == "bob"

    ran = cli(hub, "list", "--json", "--user", "bob", file=token_file(hub, "cli-admin"))
    assert ran.code == 0, ran.err
    (bob,) = json.loads(ran.out)["users"]
    assert bob["name"] == "bob"
    assert bob["hub_login"]["held"] is True


def test_a_token_without_the_admin_scope_exits_3_and_says_which_scope(hub: Hub, people: dict[str, str]) -> None:
    for name, token in (("test-admin", hub.admin_token), ("alice-own", people["alice"])):
        ran = cli(hub, "list", file=token_file(hub, name, token))
        assert ran.code == 3, (name, ran.err)
        assert "this token lacks custom:token-broker:admin" in ran.err
        assert len(ran.err.strip().splitlines()) == 1
    ran = cli(hub, "revoke", "alice", "--yes", "--reason", "not mine", file=token_file(hub, "cli-admin-bob"))
    assert ran.code == 3
    assert "custom:token-broker:admin for user 'alice'" in ran.err


def test_revoking_alice_prints_each_step_and_only_alice_must_log_in_again(hub: Hub, people: dict[str, str]) -> None:
    assert httpx.get(hub.token_route("alice"), headers={"Authorization": f"token {people['alice']}"}).status_code == 200

    ran = cli(hub, "revoke", "alice", "--yes", "--reason", "leaked notebook", file=token_file(hub, "cli-admin"))

    assert ran.code == 0, ran.out + ran.err
    lines = ran.out.splitlines()
    assert lines[0] == "alice: ok (the hub login and every broker provider)"
    outcomes = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert outcomes["idp"] == "ok"
    assert outcomes["auth_state"] == "ok"
    assert outcomes["server:(default)"] == "ok"
    # Her servers' next token request needs a new login; bob's does not.
    answer = httpx.get(hub.token_route("alice"), headers={"Authorization": f"token {people['alice']}"})
    assert answer.status_code == 401
    assert answer.json()["error"] == "login_required"
    assert httpx.get(hub.token_route("bob"), headers={"Authorization": f"token {people['bob']}"}).status_code == 200

    ran = cli(hub, "audit", "--user", "alice", file=token_file(hub, "cli-admin"))
    assert ran.code == 0, ran.err
    revoke = next(line for line in ran.out.splitlines() if " revoke " in line)
    assert "service:cli-admin" in revoke
    assert revoke.rstrip().endswith("leaked notebook")


def test_no_token_reaches_the_hub_log(hub: Hub, people: dict[str, str]) -> None:
    log = hub.log_text()
    for name in ("cli-admin", "cli-admin-bob"):
        assert token_file(hub, name).read_text().strip() not in log
