"""An admin revokes alice from the page (``/hub/token-broker/``), and everything she held ends, in one real run.

The end-to-end stack (the docs' hub fragment, the demo IdP and API) with alice's default server running and signed
in to the demo IdP's public client as provider ``demo`` (a broker grant, kept in the broker's file store), and bob
logged in to the hub. bob holds ``custom:token-broker:admin`` through a role and revokes alice (everything) in
Chromium through the page's dialog, with a reason. Then: the IdP revoked both of her grants (the old refresh tokens of
her hub login and of the broker's ``demo`` grant no longer refresh), a kernel of her running server gets
``LoginRequired`` for ``hub`` and ``demo``, her browser's next hub page is sent to log in, and bob keeps his login.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_admin_api import TOKEN_SCOPE, hub_token, refresh_at_idp
from test_admin_page import ADMIN_ROLE, REASON, sign_in_at_idp
from test_orders_stopped_server import (
    FILE_STORE,
    broker_serving,
    grant_revocations,
    refresh_with_a_copy,
    sign_in_to_demo,
)

from chromium import Chromium, available
from e2e_stack import (
    ALICE_SERVER_CONFIG,
    E2E_HUB_SETTINGS,
    E2E_TOKEN_TTL,
    E2eStack,
    e2e_stack,
    run_in_user_kernel,
    user_server,
)
from hub_stack import login

pytestmark = pytest.mark.skipif(not available(), reason="Chromium or playwright-core missing: make system-deps, npm ci")

#: What a kernel gets for each provider: "token", or the kernel helper's exception (class name and code).
GET_TOKENS = """
import json
from jupyter_token_broker import TokenBrokerError, get_token
answers = {}
for provider in ("hub", "demo"):
    try:
        answers[provider] = "token" if get_token(provider) else "empty"
    except TokenBrokerError as err:
        answers[provider] = f"{type(err).__name__}: {err.code}"
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eStack]:
    with e2e_stack(
        tmp_path_factory.mktemp("admin-page-e2e"),
        access_token_ttl=E2E_TOKEN_TTL,
        extra_config=E2E_HUB_SETTINGS + ADMIN_ROLE,
    ) as running:
        config_dir = running.workdir / "home" / "alice" / ".jupyter"
        config_dir.mkdir(parents=True)
        (config_dir / "jupyter_server_config.py").write_text(
            ALICE_SERVER_CONFIG.format(issuer=running.idp.issuer) + FILE_STORE
        )
        yield running


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TB_TEST_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def kernel_tokens(stack: E2eStack) -> dict[str, str]:
    """Runs ``GET_TOKENS`` in a new kernel of alice's running server."""
    output = run_in_user_kernel(user_server(stack.hub, "alice"), GET_TOKENS, timeout=180)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    return json.loads(lines[-1])


def test_an_admin_revokes_alice_from_the_page_and_every_token_she_held_ends(stack: E2eStack, screens: Path) -> None:
    hub, idp = stack.hub, stack.idp
    alice_browser = login(hub, "alice")
    hub.start_server("alice")
    server = user_server(hub, "alice")
    broker_serving(server)
    sign_in_to_demo(hub, alice_browser, server.token)
    assert kernel_tokens(stack) == {"hub": "token", "demo": "token"}, "before: her kernels get both tokens"
    assert alice_browser.get(f"{hub.url}hub/home").status_code == 200
    # The broker's demo grant as its store keeps it (to try its refresh token at the IdP afterwards).
    store_dir = stack.workdir / "home" / "alice" / ".local" / "share" / "jupyter" / "token-broker"
    kept = stack.workdir / "store-before-revocation"
    shutil.copytree(store_dir, kept)

    with Chromium(screens / "failure.png") as browser:
        browser.goto(f"{hub.url}hub/token-broker/")
        sign_in_at_idp(browser, "bob")  # bob's hub login: held, and he is the admin
        browser.wait(role="rowheader", name="alice")
        alice_row = browser.text(css='tr[data-user="alice"]')
        assert "Demo IdP" in alice_row
        bob_token = hub.user_token("bob", [TOKEN_SCOPE])
        assert (hub.auth_state("bob") or {}).get("refresh_token")
        assert hub_token(hub, "bob", bob_token).status_code == 200
        hub_refresh_token = hub.auth_state("alice")["refresh_token"]
        revoked_before = grant_revocations(stack)

        browser.click(role="button", name="Revoke tokens of alice")
        dialog = {"role": "dialog", "name": "Revoke tokens of alice"}
        browser.wait(**dialog)
        assert browser.value("What to revoke") == "", "everything"
        browser.fill("Reason", REASON)
        browser.click(role="button", name="Revoke", within=dialog)
        outcome = browser.text(role="status", within=dialog)
        steps = browser.text(role="table", name="Revocation steps")
        browser.screenshot(screens / "admin-page-e2e-outcome.png")
        assert "Revocation of alice (everything)" in outcome, outcome
        assert "Running default server" in steps
        assert "Revoked: demo (revoked)." in steps, "the running server's broker revoked its demo grant"
        assert browser.page_errors() == []

    # The IdP's revocation endpoint ended both grants: her hub login's and the broker's demo grant.
    assert grant_revocations(stack) >= revoked_before + 2
    spent = refresh_at_idp(idp, hub_refresh_token)
    assert (spent.status_code, spent.json().get("error")) == (400, "invalid_grant"), spent.text
    invalid_grants = idp.invalid_grant_count()
    copy_demo, refreshed = refresh_with_a_copy(kept, idp.issuer, stack.workdir / "copy-broker")
    assert copy_demo["signed_in"] is True, "the copy held the demo grant"
    assert (refreshed.status_code, refreshed.json().get("error")) == (401, "login_required"), refreshed.text
    assert idp.invalid_grant_count() == invalid_grants + 1, "the IdP refused the demo grant's old refresh token"
    with server.token_client() as client:
        demo = next(p for p in client.get(server.api("providers")).json()["providers"] if p["id"] == "demo")
    assert demo["signed_in"] is False

    # Her running server's kernels get LoginRequired for both; her next hub page asks her to log in.
    assert kernel_tokens(stack) == {"hub": "LoginRequired: login_required", "demo": "LoginRequired: login_required"}
    page = alice_browser.get(f"{hub.url}hub/home")
    assert (page.status_code, page.headers.get("location")) == (302, "/hub/login?next=%2Fhub%2Fhome")

    # bob is untouched: his login keeps its refresh token and his servers still get tokens of it.
    assert (hub.auth_state("bob") or {}).get("refresh_token")
    assert hub_token(hub, "bob", bob_token).status_code == 200
