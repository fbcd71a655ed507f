"""Every broker option can be set through ``c.TokenBroker`` (issue 11, defect 7): only providers, store and audit
reached the broker, the refresh margin, timeouts and TTLs kept fixed defaults. Each option is offered with its help,
reaches the broker the server starts (the config it reads, and what it does: a shorter login state, a shorter
plugin consent), and a wrong value is refused at start by the broker's own check-config, naming the option.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_token_broker.broker_options import BROKER_OPTIONS
from jupyter_token_broker.config import TokenBroker

from demo_idp import DemoIdp, start_idp
from jupyter_process import BROKER_BUNDLE, PACKAGE_DIR, JupyterServer, free_ports, start_server, wait_until

SET_BY_THE_EXTENSION = {"providers", "store", "audit"}
"""Broker options with a ``c.TokenBroker`` trait of their own (the extension fills in paths)."""

# A value other than the default for every option the table passes on; the server below runs with all of them.
CHANGED = {
    "refresh_margin_seconds": 45,
    "default_min_ttl": 20,
    "login_state_ttl_seconds": 123,
    "upstream_timeout_ms": 7000,
    "consent_session_seconds": 3600,
    "clock_tolerance_seconds": 120,
    "egress_timeout_ms": 20000,
    "egress_idle_timeout_ms": 45000,
    "egress_max_request_bytes": 1073741824,
    "egress_max_response_bytes": 2147483648,
}


def broker_options() -> list[dict]:
    """``token-broker options``: every option of the broker's config file, with its range and default."""
    run = subprocess.run(
        ["node", str(BROKER_BUNDLE), "options"], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(run.stdout)["options"]


def test_every_broker_option_is_a_c_tokenbroker_option_with_the_brokers_range_and_default() -> None:
    options = broker_options()
    traits = TokenBroker.class_traits(config=True)
    assert {o["name"] for o in options} - SET_BY_THE_EXTENSION == set(BROKER_OPTIONS)
    assert set(traits) >= SET_BY_THE_EXTENSION
    for option in options:
        if option["name"] in SET_BY_THE_EXTENSION:
            continue
        help_text = traits[option["name"]].help
        assert f"({option['minimum']} to {option['maximum']}; default {option['default']})" in help_text, option
        assert option["name"] in CHANGED
        assert CHANGED[option["name"]] != option["default"]


def test_on_the_command_line_a_number_is_a_number_and_anything_else_is_left_for_the_broker_to_refuse() -> None:
    trait = TokenBroker.class_traits()["upstream_timeout_ms"]
    assert trait.from_string("20000") == 20000
    assert trait.from_string("fast") == "fast"
    assert trait.from_string("None") is None
    # Unset, an option is not written: the broker's default applies (no audit file: nothing made on disk here).
    assert "upstream_timeout_ms" not in TokenBroker(audit={}).broker_config()
    assert TokenBroker(audit={}, upstream_timeout_ms=20000).broker_config()["upstream_timeout_ms"] == 20000


def test_help_all_lists_every_option_with_its_help() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_token_broker", "--help-all"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(PACKAGE_DIR), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    for name in [*BROKER_OPTIONS, "owner", "providers", "store", "audit"]:
        assert f"--TokenBroker.{name}=" in run.stdout
    assert "Seconds a started sign-in may take before its login state expires" in run.stdout


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory):
    """A demo IdP, and a server whose c.TokenBroker sets every broker option to :data:`CHANGED`."""
    idp_port, api_port, jupyter_port = free_ports(3)
    idp = start_idp(idp_port, [jupyter_port], api_port=api_port)
    providers = [
        {
            "id": "demo",
            "title": "Demo IdP",
            "issuer": idp.issuer,
            "client_id": "jupyter-demo",
            "scopes": ["openid", "offline_access"],
        }
    ]
    settings = "".join(f"c.TokenBroker.{name} = {value!r}\n" for name, value in CHANGED.items())
    server = start_server(tmp_path_factory.mktemp("options"), jupyter_port, providers, config_extra=settings)
    yield server, idp
    server.stop()
    idp.stop()


def test_each_option_is_in_the_config_the_broker_reads(configured: tuple[JupyterServer, DemoIdp]) -> None:
    server, _ = configured
    # The broker's private run directory is under $XDG_RUNTIME_DIR (rundir.py).
    (config_file,) = server.xdg_runtime_dir.glob("*/config.json")
    written = json.loads(config_file.read_text())
    assert {name: written.get(name) for name in CHANGED} == CHANGED


def test_the_login_state_lives_as_long_as_configured(configured: tuple[JupyterServer, DemoIdp]) -> None:
    server, idp = configured
    with server.token_client() as client:
        before = time.time()
        started = client.post(server.api("providers/demo/login"), json={})
    assert started.status_code == 200, started.text
    assert started.json()["authorization_url"].startswith(idp.issuer)
    # The broker's default is 600 s.
    assert before + 123 - 3 <= started.json()["expires_at"] <= time.time() + 123 + 1


def test_a_session_consent_lasts_as_long_as_configured(configured: tuple[JupyterServer, DemoIdp]) -> None:
    server, _ = configured
    plugin = "@example/archive:plugin"
    with server.token_client() as client:
        before = time.time()
        decided = client.put(server.api("consents"), json={"client": plugin, "provider": "demo", "decision": "allow"})
        listed = client.get(server.api("consents"))
    assert decided.status_code == 204, decided.text
    (consent,) = [c for c in listed.json()["consents"] if c["client"] == plugin]
    # The broker's default is 8 hours.
    assert before + 3600 - 3 <= consent["expires_at"] <= time.time() + 3600 + 1


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "c.TokenBroker.upstream_timeout_ms = 50",
            "config: upstream_timeout_ms: must be an integer from 100 to 120000",
        ),
        (
            'c.TokenBroker.login_state_ttl_seconds = "ten minutes"',
            "config: login_state_ttl_seconds: must be an integer from 10 to 3600",
        ),
    ],
)
def test_a_wrong_value_is_refused_at_start_naming_the_option(tmp_path: Path, setting: str, message: str) -> None:
    provider = {"id": "demo", "title": "Demo", "issuer": "https://idp.example.org", "client_id": "c"}
    provider["scopes"] = ["openid"]
    server = start_server(tmp_path, free_ports(1)[0], [provider], config_extra=setting, wait_for_broker=False)
    try:
        wait_until(lambda: "not started" in server.log_text(), 30, what="the refusal in the log")
        with server.token_client() as client:
            answer = client.get(server.api("providers"))
        assert answer.status_code == 503
        assert answer.json()["error"] == "config_error"
        assert message in answer.json()["error_description"]
        (refusal,) = [line for line in server.log_text().splitlines() if "token-broker: not started:" in line]
        assert message in refusal
        assert server.broker_pids() == []
    finally:
        server.stop()
