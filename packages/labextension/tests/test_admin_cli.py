"""``jupyter token-broker-admin``: its arguments, where it takes the API token from (an owner-only file or a prompt,
never an argument or an environment variable), its confirmations, its exit codes and messages.

The hub here is a small stdlib HTTP server on a free port of 127.0.0.1 that answers as each test scripts it and
records what it was sent; tests/hub/test_admin_cli.py runs the same CLI against a real JupyterHub.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from jupyter_token_broker.admin_cli import Terminal, main
from jupyter_token_broker.admin_client import api_base, is_plain_http_off_host

from jupyter_process import free_ports

TOKEN = "f3a9c0ffee5ecret0123456789abcdef"  # a fake hub API token; must never show in any output
ADMIN = "/hub/api/token-broker/v1/admin/"
ALICE_ROW = {
    "name": "alice",
    "hub_login": {
        "held": True,
        "account": "alice",
        "scopes": ["openid", "demo:read"],
        "expires_at": 1_800_000_000,
        "last_used_at": "2026-11-30T00:10:00.123456Z",
    },
    "servers": [
        {
            "name": "",
            "running": True,
            "providers": [
                {"id": "hub", "title": "Hub login", "kind": "hub", "signed_in": True, "account": "alice"},
                {"id": "demo", "title": "Demo", "kind": "oidc", "signed_in": False, "account": None},
            ],
            "error": None,
        },
        {"name": "gpu", "running": False, "providers": None, "error": None},
    ],
    "pending_orders": 1,
}
BOB_ROW = {
    "name": "bob",
    "hub_login": {"held": False, "account": None, "scopes": [], "expires_at": None, "last_used_at": None},
    "servers": [],
    "pending_orders": 0,
}


def revoked(user: str, outcome: str = "ok", provider: str | None = None) -> dict[str, Any]:
    steps = [
        {"target": "idp", "outcome": "ok"},
        {"target": "auth_state", "outcome": "ok"},
        {"target": "server:", "outcome": "ok" if outcome == "ok" else "error", "code": "upstream_unavailable"},
        {"target": "order", "outcome": "ok"},
    ]
    return {"user": user, "provider": provider, "outcome": outcome, "steps": steps}


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class FakeHub:
    """Answers ``(method, path) -> (status, body, headers)`` and records every request."""

    url: str
    answers: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.answers[(method, path)] = (status, body, headers or {})


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fake.seen.append(
                Seen(self.command, self.path, self.headers.get("Authorization"), json.loads(raw) if raw else None)
            )
            status, body, headers = fake.answers.get(
                (self.command, self.path.split("?")[0]), (404, "<html>Not found</html>", {})
            )
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(
    *argv: str,
    environ: dict[str, str] | None = None,
    tty: bool = False,
    typed: str | None = None,
    confirm: str | None = None,
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        assert confirm is not None, f"unexpected confirmation: {prompt}"
        return confirm

    def ask_secret(_prompt: str) -> str:
        assert typed is not None, "unexpected token prompt"
        return typed

    terminal = Terminal(out=out, err=err, isatty=lambda: tty, ask_secret=ask_secret, ask=ask)
    code = main(list(argv), environ=environ or {}, terminal=terminal)
    result = Run(code, out.getvalue(), err.getvalue())
    # Whatever happened, the token is in no output.
    assert TOKEN not in result.out
    assert TOKEN not in result.err
    return result


# --- where the hub is -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://hub.example.org", "https://hub.example.org/hub/api/token-broker/v1/admin/"),
        ("https://hub.example.org/", "https://hub.example.org/hub/api/token-broker/v1/admin/"),
        ("https://example.org/jh/", "https://example.org/jh/hub/api/token-broker/v1/admin/"),
        ("https://example.org/jh/hub/", "https://example.org/jh/hub/api/token-broker/v1/admin/"),
        ("http://hub:8081/hub/api", "http://hub:8081/hub/api/token-broker/v1/admin/"),
    ],
)
def test_the_hub_url_may_be_the_public_url_the_hub_prefix_or_the_api_url(given: str, expected: str) -> None:
    assert api_base(given) == expected


@pytest.mark.parametrize(
    "url", ["https://admin:hunter2@hub.example.org/", "https://hub.example.org/?token=abc", "ftp://hub/", "hub.org"]
)
def test_a_hub_url_carrying_credentials_or_not_http_is_refused(url: str, token_file: Path) -> None:
    result = run("list", "--hub-url", url, "--token-file", str(token_file))
    assert result.code == 2
    assert "--hub-url" in result.err
    assert "hunter2" not in result.err


def test_the_hub_url_comes_from_jupyterhub_url_when_not_given(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": []})
    result = run("list", "--token-file", str(token_file), environ={"JUPYTERHUB_URL": hub.url})
    assert result.code == 0, result.err
    assert [seen.path for seen in hub.seen] == [ADMIN + "users"]


def test_without_a_hub_url_it_says_how_to_give_one(token_file: Path) -> None:
    result = run("list", "--token-file", str(token_file))
    assert result.code == 2
    assert "--hub-url" in result.err
    assert "JUPYTERHUB_URL" in result.err


def test_plain_http_to_another_machine_is_warned_about() -> None:
    assert is_plain_http_off_host("http://hub.example.org/hub/api/")
    assert is_plain_http_off_host("http://10.0.0.5/hub/api/")
    assert not is_plain_http_off_host("http://127.0.0.1:8000/hub/api/")
    assert not is_plain_http_off_host("http://localhost:8000/hub/api/")
    assert not is_plain_http_off_host("https://hub.example.org/hub/api/")


# --- where the token comes from ---------------------------------------------------------------------------------


def test_the_token_file_is_sent_as_the_hub_token(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": [ALICE_ROW]})
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 0, result.err
    assert hub.seen[0].authorization == f"token {TOKEN}"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666, 0o620])
def test_a_token_file_others_can_read_or_write_is_refused_like_ssh(mode: int, hub: FakeHub, token_file: Path) -> None:
    token_file.chmod(mode)
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 2
    assert f"chmod 600 {token_file}" in result.err
    assert f"{mode:04o}" in result.err
    assert hub.seen == []


def test_an_owner_only_read_only_token_file_is_accepted(hub: FakeHub, token_file: Path) -> None:
    token_file.chmod(0o400)
    hub.answer("GET", ADMIN + "users", 200, {"users": []})
    assert run("list", "--hub-url", hub.url, "--token-file", str(token_file)).code == 0


def test_a_symbolic_link_to_a_token_file_is_refused(hub: FakeHub, token_file: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(token_file)
    result = run("list", "--hub-url", hub.url, "--token-file", str(link))
    assert result.code == 2
    assert "symbolic link" in result.err
    assert hub.seen == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root")
def test_a_token_file_of_another_user_is_refused(hub: FakeHub, token_file: Path) -> None:
    os.chown(token_file, 65534, -1)
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 2
    assert "belongs to another user" in result.err
    assert hub.seen == []


@pytest.mark.parametrize(
    ("content", "said"), [("", "holds no token"), ("one\ntwo\n", "on one line"), ("a b", "on one line")]
)
def test_a_token_file_not_holding_one_token_is_refused(content: str, said: str, hub: FakeHub, token_file: Path) -> None:
    token_file.write_text(content)
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 2
    assert said in result.err
    assert hub.seen == []


def test_a_missing_token_file_is_named(hub: FakeHub, tmp_path: Path) -> None:
    result = run("list", "--hub-url", hub.url, "--token-file", str(tmp_path / "nope"))
    assert result.code == 2
    assert "does not exist" in result.err


def test_without_a_token_file_a_terminal_is_asked_for_the_token(hub: FakeHub) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": []})
    result = run("list", "--hub-url", hub.url, tty=True, typed=f"  {TOKEN}  ")
    assert result.code == 0, result.err
    assert hub.seen[0].authorization == f"token {TOKEN}"


def test_the_environment_never_supplies_the_token(hub: FakeHub) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": []})
    env = {"JUPYTERHUB_URL": hub.url, "JUPYTERHUB_API_TOKEN": TOKEN, "JPY_API_TOKEN": TOKEN}
    result = run("list", environ=env, tty=False)
    assert result.code == 2
    assert "--token-file" in result.err
    assert "never read from an argument or an environment variable" in result.err
    assert hub.seen == []


@pytest.mark.parametrize("option", ["--token", "--api-token"])
def test_there_is_no_option_that_takes_the_token_itself(option: str, hub: FakeHub, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["list", "--hub-url", hub.url, option, TOKEN], environ={})
    assert stopped.value.code == 2
    assert hub.seen == []
    assert TOKEN not in capsys.readouterr().err


def test_a_token_given_as_the_command_is_not_echoed(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([TOKEN], environ={})
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "invalid choice" in said
    assert TOKEN not in said


def test_a_token_given_in_place_of_the_file_is_not_echoed(hub: FakeHub) -> None:
    result = run("list", "--hub-url", hub.url, "--token-file", TOKEN)
    assert result.code == 2
    assert "never the token" in result.err


def test_help_says_where_the_token_comes_from() -> None:
    script = Path(sys.executable).parent / "jupyter-token-broker-admin"
    assert script.exists(), "reinstall the package: pip install --no-build-isolation -e packages/labextension"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "token-broker-admin", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PATH": f"{script.parent}:{os.environ.get('PATH', '')}"},
    )
    text = " ".join(done.stdout.split())
    assert "never taken from a command-line argument or an environment variable" in text
    assert "mode 0600" in text
    assert "custom:token-broker:admin" in text


# --- the commands -----------------------------------------------------------------------------------------------


def test_list_shows_each_user_with_their_hub_login_servers_and_providers(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": [ALICE_ROW, BOB_ROW]})
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file), "--user", "alice", "--group", "g")
    assert result.code == 0, result.err
    assert hub.seen[0].path == ADMIN + "users?user=alice&group=g"
    lines = result.out.splitlines()
    assert lines[0].split() == [
        "USER",
        "HUB",
        "LOGIN",
        "EXPIRES",
        "LAST",
        "USED",
        "SERVER",
        "BROKER",
        "PROVIDERS",
        "ORDERS",
    ]
    alice = next(line for line in lines if line.startswith("alice"))
    assert "2027-01-15T08:00:00Z" in alice
    assert "2026-11-30T00:10:00Z" in alice
    assert "(default)" in alice
    assert "hub: alice; demo: signed out" in alice
    assert any("gpu" in line and "stopped" in line for line in lines)
    assert any(line.startswith("bob") for line in lines)
    assert lines[-1] == "2 user(s), 1 with a hub login, 1 running server(s)"


def test_list_json_prints_the_hubs_answer(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": [ALICE_ROW]})
    result = run("list", "--json", "--hub-url", hub.url, "--token-file", str(token_file))
    assert json.loads(result.out) == {"users": [ALICE_ROW]}


def test_common_options_go_before_or_after_the_command(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, {"users": []})
    assert run("--hub-url", hub.url, "--token-file", str(token_file), "list").code == 0
    assert run("list", "--hub-url", hub.url, "--token-file", str(token_file)).code == 0


def test_revoke_asks_for_confirmation_and_does_nothing_on_no(hub: FakeHub, token_file: Path) -> None:
    result = run(
        "revoke",
        "alice",
        "--reason",
        "leak",
        "--hub-url",
        hub.url,
        "--token-file",
        str(token_file),
        tty=True,
        confirm="n",
    )
    assert result.code == 1
    assert "not revoked" in result.err
    assert hub.seen == []


def test_revoke_without_a_terminal_needs_yes(hub: FakeHub, token_file: Path) -> None:
    result = run("revoke", "alice", "--reason", "leak", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 2
    assert "--yes" in result.err
    assert hub.seen == []


def test_revoke_confirmed_sends_the_order_and_prints_each_step(hub: FakeHub, token_file: Path) -> None:
    hub.answer("POST", ADMIN + "users/alice/revoke", 200, revoked("alice"))
    result = run(
        "revoke",
        "alice",
        "--reason",
        " leaked notebook ",
        "--hub-url",
        hub.url,
        "--token-file",
        str(token_file),
        tty=True,
        confirm="y\n",
    )
    assert result.code == 0, result.err
    assert hub.seen[0].body == {"provider": None, "reason": "leaked notebook", "force": False}
    assert result.out.splitlines()[0] == "alice: ok (the hub login and every broker provider)"
    for target in ("idp", "auth_state", "server:(default)", "order"):
        assert any(line.split()[0] == target for line in result.out.splitlines()[1:])


def test_revoke_one_provider_with_force_and_yes(hub: FakeHub, token_file: Path) -> None:
    hub.answer("POST", ADMIN + "users/a%2Fb/revoke", 200, revoked("a/b", "partial", "demo"))
    result = run(
        "revoke",
        "a/b",
        "--provider",
        "demo",
        "--force",
        "--yes",
        "--reason",
        "r",
        "--hub-url",
        hub.url,
        "--token-file",
        str(token_file),
    )
    assert result.code == 1
    assert hub.seen[0].body == {"provider": "demo", "reason": "r", "force": True}
    assert "a/b: partial (provider 'demo')" in result.out
    assert "upstream_unavailable" in result.out


def test_revoke_all_needs_the_word_yes_and_reports_each_user(hub: FakeHub, token_file: Path) -> None:
    results = [revoked("alice"), revoked("bob"), revoked("carol", "error")]
    hub.answer("POST", ADMIN + "revoke", 200, {"results": results})
    base = [
        "revoke",
        "--all",
        "--group",
        "physics",
        "--provider",
        "demo",
        "--reason",
        "client leaked",
        "--hub-url",
        hub.url,
        "--token-file",
        str(token_file),
    ]
    assert run(*base, tty=True, confirm="y").code == 1
    assert hub.seen == []
    result = run(*base, tty=True, confirm="yes")
    assert result.code == 1
    assert hub.seen[0].body == {"provider": "demo", "reason": "client leaked", "force": False, "groups": ["physics"]}
    assert result.out.splitlines()[-1] == "3 user(s): 1 error, 2 ok"
    assert "carol: error" in result.out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["revoke", "alice"], "--reason"),
        (["revoke", "alice", "--reason", "   "], "--reason must be 1 to 500"),
        (["revoke", "alice", "--reason", "x" * 501], "--reason must be 1 to 500"),
        (["revoke", "--reason", "r"], "USER"),
        (["revoke", "alice", "--all", "--reason", "r"], "not allowed with"),
        (["revoke", "alice", "--group", "g", "--reason", "r"], "--group goes with --all"),
        (["audit", "--limit", "0"], "--limit must be 1 to 1000"),
        (["audit", "--limit", "1001"], "--limit must be 1 to 1000"),
        (["list", "--timeout", "0"], "--timeout"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2_before_any_call(
    argv: list[str], said: str, hub: FakeHub, token_file: Path, capsys
) -> None:
    full = [*argv, "--hub-url", hub.url, "--token-file", str(token_file)] if argv else []
    try:
        code = main(full, environ={}, terminal=Terminal(out=io.StringIO(), err=(err := io.StringIO())))
        message = err.getvalue()
    except SystemExit as stopped:
        code = stopped.code
        message = capsys.readouterr().err
    assert code == 2
    assert said in message
    assert hub.seen == []


def test_audit_prints_events_newest_first_as_the_hub_sends_them(hub: FakeHub, token_file: Path) -> None:
    events = [
        {
            "time": "2026-11-30T00:20:00Z",
            "actor": "admin",
            "user": "alice",
            "action": "revoke",
            "provider": None,
            "outcome": "ok",
            "reason": "leaked\nnotebook",
        },
        {
            "time": "2026-11-30T00:10:00Z",
            "actor": "admin",
            "user": None,
            "action": "list",
            "provider": None,
            "outcome": "ok",
        },
    ]
    hub.answer("GET", ADMIN + "audit", 200, {"events": events})
    result = run("audit", "--user", "alice", "--limit", "5", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 0, result.err
    assert hub.seen[0].path == ADMIN + "audit?user=alice&limit=5"
    lines = result.out.splitlines()
    assert lines[1].split()[:6] == ["2026-11-30T00:20:00Z", "admin", "alice", "revoke", "(all)", "ok"]
    assert lines[1].endswith("leaked notebook")
    assert lines[2].split()[:3] == ["2026-11-30T00:10:00Z", "admin", "list"]


# --- the hub's refusals and failures ----------------------------------------------------------------------------


def test_a_token_without_the_admin_scope_exits_3_naming_the_scope(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 403, {"error": "forbidden", "error_description": "Needs the scope."})
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 3
    assert "this token lacks custom:token-broker:admin" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_revoke_of_a_user_the_token_does_not_cover_names_the_user(hub: FakeHub, token_file: Path) -> None:
    hub.answer("POST", ADMIN + "users/bob/revoke", 403, {"error": "forbidden", "error_description": "Not bob."})
    result = run("revoke", "bob", "--yes", "--reason", "r", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 3
    assert "custom:token-broker:admin for user 'bob'" in result.err


@pytest.mark.parametrize("status", [401, 403])
def test_an_unknown_token_exits_3(status: int, hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "audit", status, {"status": status, "message": "Missing or invalid credentials"})
    result = run("audit", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 3
    assert "refused the API token" in result.err


def test_a_hub_without_the_admin_api_is_told_apart_from_an_unknown_user(hub: FakeHub, token_file: Path) -> None:
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "no token-broker admin API" in result.err
    assert "configure(c)" in result.err
    hub.answer("POST", ADMIN + "users/zed/revoke", 404, {"error": "not_found", "error_description": "No user zed."})
    result = run("revoke", "zed", "--yes", "--reason", "r", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "not found (No user zed) (404 not_found)" in result.err


def test_an_idp_outage_without_force_shows_the_steps_and_suggests_force(hub: FakeHub, token_file: Path) -> None:
    answer = revoked("alice", "error")
    answer["steps"][0] = {"target": "idp", "outcome": "error", "code": "upstream_unavailable", "description": "down"}
    hub.answer("POST", ADMIN + "users/alice/revoke", 503, answer, {"Retry-After": "30"})
    result = run("revoke", "alice", "--yes", "--reason", "r", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "alice: error" in result.out
    hub.answer(
        "POST",
        ADMIN + "revoke",
        503,
        {"error": "upstream_unavailable", "error_description": "IdP down."},
        {"Retry-After": "30"},
    )
    result = run("revoke", "--all", "--yes", "--reason", "r", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "retry in 30 s" in result.err
    assert "--force" in result.err


def test_an_unreachable_hub_is_named_with_the_fix(token_file: Path) -> None:
    (port,) = free_ports(1)
    result = run("list", "--hub-url", f"http://127.0.0.1:{port}/", "--token-file", str(token_file))
    assert result.code == 1
    assert f"cannot reach the hub at http://127.0.0.1:{port}/hub/api/token-broker/v1/admin/" in result.err
    assert "connection refused" in result.err


def test_a_redirect_is_reported_and_never_followed_with_the_token(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 302, "", {"Location": hub.url + "elsewhere"})
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "redirect (302)" in result.err
    assert [seen.path for seen in hub.seen] == [ADMIN + "users"]


def test_a_non_json_answer_says_the_url_is_probably_wrong(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "users", 200, "<html>a proxy page</html>")
    result = run("list", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "without a JSON object" in result.err


def test_a_hub_failure_points_at_the_hub_log(hub: FakeHub, token_file: Path) -> None:
    hub.answer("GET", ADMIN + "audit", 500, {"error": "server_error", "error_description": "Internal error."})
    result = run("audit", "--hub-url", hub.url, "--token-file", str(token_file))
    assert result.code == 1
    assert "the hub's log has the details" in result.err
