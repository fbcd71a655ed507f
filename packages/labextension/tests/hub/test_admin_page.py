"""The admin page in the hub (``/hub/token-broker/``) in Debian's Chromium, against a real hub and the demo IdP.

bob holds ``custom:token-broker:admin`` (a role of this test's hub); alice does not. bob opens the page (the hub sends
him to log in first), sees alice and bob, filters by group, revokes alice through the dialog with a reason, and
sees the per-step outcome and the audit entry; alice's hub login has no tokens any more and bob's is untouched.
alice gets the hub's 403 page. Screenshots go to the test's tmp dir, or to TB_TEST_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chromium import Chromium, available
from hub_stack import DEMO_PASSWORD, Hub, Idp, login, start_stack

pytestmark = pytest.mark.skipif(not available(), reason="Chromium or playwright-core missing: make system-deps, npm ci")

ADMIN_ROLE = """
c.JupyterHub.load_roles.append(
    {"name": "incident-responders", "scopes": ["custom:token-broker:admin"], "users": ["bob"]}
)
c.JupyterHub.load_groups = {"physics": {"users": ["alice"]}}
"""
REASON = "Leaked notebook shared publicly (incident 42)"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Idp, Hub]]:
    idp, hub = start_stack(tmp_path_factory.mktemp("admin-page"), configure={}, extra_config=ADMIN_ROLE)
    yield idp, hub
    hub.stop()
    idp.stop()


@pytest.fixture(scope="module")
def hub(stack: tuple[Idp, Hub]) -> Hub:
    return stack[1]


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TB_TEST_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def sign_in_at_idp(browser: Chromium, username: str) -> None:
    """From the hub's login page: the IdP's button, then the IdP's own form."""
    browser.click(role="button", name="Sign in with Demo IdP")  # a link styled as a button
    browser.fill("Username", username)
    browser.fill("Password", DEMO_PASSWORD)
    browser.click(role="button", name="Sign in")


def test_admin_revokes_alice_from_the_page(hub: Hub, screens: Path) -> None:
    login(hub, "alice")  # alice's hub login holds tokens
    alice_state = hub.auth_state("alice")
    assert alice_state
    assert alice_state.get("refresh_token")
    hub.start_server("alice")
    hub.use_broker("alice")  # her running server's broker (started on first use) lists its providers

    with Chromium(screens / "failure.png") as browser:
        browser.goto(f"{hub.url}hub/token-broker/")
        assert "/hub/login" in browser.url, "the page sends a visitor to the hub's login first"
        sign_in_at_idp(browser, "bob")
        browser.wait(role="rowheader", name="bob")
        assert browser.url.endswith("/hub/token-broker/")
        assert browser.text(role="link", name="Token broker")  # the hub's own nav bar, with the page in it
        alice_row = browser.text(css='tr[data-user="alice"]')
        assert "running" in alice_row
        assert "Demo IdP (hub login)" in alice_row, "the running server's providers, from its broker"
        browser.screenshot(screens / "admin-page-list.png")

        # Every token of alice's login is in the hub; none of it is on the page.
        page_text = browser.text(css="body")
        for key in ("access_token", "refresh_token", "id_token"):
            if alice_state.get(key):
                assert alice_state[key] not in page_text

        browser.fill("Group", "physics")
        browser.click(role="button", name="Filter")
        browser.wait(role="rowheader", name="bob", state="detached")
        assert browser.count(role="rowheader", name="alice") == 1
        browser.click(role="button", name="Clear")
        browser.wait(role="rowheader", name="bob")

        browser.click(role="button", name="Revoke tokens of alice")
        dialog = {"role": "dialog", "name": "Revoke tokens of alice"}
        browser.wait(**dialog)
        # The dialog is the confirmation, and the reason is required: nothing is sent without one.
        browser.click(role="button", name="Revoke", within=dialog)
        assert "Give a reason" in browser.text(role="alert", within=dialog)
        assert hub.auth_state("alice").get("refresh_token")

        browser.fill("Reason", REASON)
        # Once there is a reason, the warning about it goes (it stayed until the next click, seen in a screenshot).
        browser.wait(role="alert", state="hidden", within=dialog)
        browser.screenshot(screens / "admin-page-dialog.png")
        browser.click(role="button", name="Revoke", within=dialog)
        outcome = browser.text(role="status", within=dialog)
        assert "Revocation of alice (everything)" in outcome
        steps = browser.text(role="table", name="Revocation steps")
        assert "Hub: forget the login's tokens" in steps
        assert "Identity provider" in steps
        assert "Running default server" in steps
        browser.screenshot(screens / "admin-page-outcome.png")

        state = hub.auth_state("alice") or {}
        assert not state.get("access_token")
        assert not state.get("refresh_token")
        assert (hub.auth_state("bob") or {}).get("refresh_token"), "bob is untouched"

        browser.click(role="button", name="Done", within=dialog)
        browser.wait(**dialog, state="detached")
        events = browser.text(role="table", name="Audit trail").splitlines()[1:]
        revoked = [i for i, line in enumerate(events) if "\trevoke\t" in line]
        assert len(revoked) == 1
        assert "\talice\t" in events[revoked[0]]
        assert REASON in events[revoked[0]]
        assert "\tlist\t" in events[-1], "newest first: the page's first list is the oldest event"
        browser.screenshot(screens / "admin-page-audit.png")
        assert browser.page_errors() == []


def test_alice_without_the_scope_gets_the_403_page(hub: Hub, screens: Path) -> None:
    with Chromium(screens / "failure.png") as browser:
        browser.goto(f"{hub.url}hub/token-broker/")
        sign_in_at_idp(browser, "alice")
        browser.wait(text="403")
        assert browser.url.endswith("/hub/token-broker/")
        assert "custom:token-broker:admin" in browser.text(css="body")
        assert browser.count(role="table") == 0
        browser.screenshot(screens / "admin-page-403.png")


def test_the_page_shows_servers_providers_and_the_idp_outage(hub: Hub, screens: Path) -> None:
    """States the real stack shows rarely, answered by the browser itself in the contract's shapes: a running
    server's providers, a server that did not answer, pending orders, and a revoke refused with 503 + Retry-After
    (in the hub's dark theme)."""
    now = int(time.time())
    users = {
        "users": [
            {
                "name": "alice",
                "hub_login": {
                    "held": True,
                    "account": "alice",
                    "scopes": ["openid", "offline_access", "demo:read"],
                    "expires_at": now + 240,
                    "last_used_at": "2026-11-30T00:10:00Z",
                },
                "servers": [
                    {
                        "name": "",
                        "running": True,
                        "providers": [
                            {
                                "id": "hub",
                                "title": "Demo IdP (hub login)",
                                "kind": "hub",
                                "signed_in": True,
                                "account": "alice",
                                "scopes": ["demo:read"],
                                "expires_at": now + 240,
                            },
                            {
                                "id": "github",
                                "title": "GitHub",
                                "kind": "oauth2",
                                "signed_in": True,
                                "account": "alice-gh",
                                "scopes": ["repo", "read:org"],
                                "expires_at": now + 7200,
                            },
                        ],
                        "error": None,
                    },
                    {
                        "name": "gpu",
                        "running": True,
                        "providers": None,
                        "error": {"code": "upstream_unavailable", "description": "The server did not answer in time."},
                    },
                    {"name": "archive", "running": False, "providers": None, "error": None},
                ],
                "pending_orders": 1,
            },
            {
                "name": "bob",
                "hub_login": {"held": False, "account": None, "scopes": [], "expires_at": None, "last_used_at": None},
                "servers": [],
                "pending_orders": 0,
            },
        ]
    }
    # A refused revocation answers the per-user outcome too, with the error.
    outage = {
        "user": "alice",
        "provider": None,
        "outcome": "error",
        "steps": [
            {
                "target": "idp",
                "outcome": "error",
                "code": "upstream_unavailable",
                "description": "The identity provider did not answer.",
            }
        ],
        "error": "upstream_unavailable",
        "error_description": "The identity provider did not answer.",
    }
    with Chromium(screens / "failure.png") as browser:
        browser.answer("**/api/token-broker/v1/admin/users*", 200, users)
        browser.answer("**/api/token-broker/v1/admin/audit*", 200, {"events": []})
        browser.answer("**/api/token-broker/v1/admin/users/alice/revoke", 503, outage, {"Retry-After": "30"})
        browser.goto(f"{hub.url}hub/token-broker/")
        sign_in_at_idp(browser, "bob")
        browser.wait(role="rowheader", name="alice")
        browser.click(role="button", name="Toggle dark mode")  # the hub's own theme switch: the page follows it
        row = browser.text(css='tr[data-user="alice"]')
        assert "GitHub" in row
        assert "alice-gh" in row
        assert "The server did not answer in time." in row
        assert "1 pending" in row
        assert "stopped" in row
        browser.screenshot(screens / "admin-page-providers.png")

        browser.click(role="button", name="Revoke GitHub of alice")
        dialog = {"role": "dialog", "name": "Revoke tokens of alice"}
        assert browser.value("What to revoke") == "github", "the provider's button preselects it"
        browser.click(role="button", name="Cancel", within=dialog)
        browser.wait(**dialog, state="detached")

        browser.click(role="button", name="Revoke tokens of alice")
        assert browser.value("What to revoke") == "", "everything"
        browser.fill("Reason", "departed")
        browser.click(role="button", name="Revoke", within=dialog)
        problem = browser.text(role="alert", within=dialog)
        assert "The identity provider did not answer. Try again in 30 s." in problem
        assert "Force" in problem
        assert "Identity provider" in browser.text(role="table", name="Revocation steps")
        browser.screenshot(screens / "admin-page-outage.png")
        assert browser.page_errors() == []
