"""A sign-in to an extra provider (not the hub login) from a NAMED server, through the hub's single redirect URI.

IdPs such as Cognito accept exact redirect URIs only, so the IdP knows one URI for every user and server:
``{hub}/hub/user-redirect/token-broker/api/v1/callback``. JupyterHub's own user-redirect would send the callback to
the default server (here not even running); the redirect hook of ``configure(c)`` sends it to the server that
started the sign-in, and the authorization code never appears in the hub's log.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urljoin, urlsplit

from e2e_stack import BROKER_API, USER_REDIRECT_CALLBACK, E2eStack, LoggedIn, run_in_user_kernel, user_server
from hub_stack import DEMO_PASSWORD

FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
SERVER_NAME = "lab2"


def test_sign_in_to_another_provider_from_a_named_server_through_the_hubs_redirect_uri(
    e2e: E2eStack, alice: LoggedIn
) -> None:
    """alice's servers have the demo IdP's public client as provider ``demo`` (``e2e_stack.ALICE_SERVER_CONFIG``)."""
    hub, browser = e2e.hub, alice.browser
    hub.start_server("alice", SERVER_NAME)
    server = user_server(hub, "alice", SERVER_NAME)

    # Started as the panel does, through the hub's public URL (the proxy): the redirect URI is built from the host
    # the request came to, so a request to the server's own port would name that port instead of the hub.
    with server.token_client() as client:
        started = client.post(f"{hub.url}user/alice/{SERVER_NAME}/{BROKER_API}providers/demo/login", json={})
    assert started.status_code == 200, started.text
    authorization_url = started.json()["authorization_url"]
    assert parse_qs(urlsplit(authorization_url).query)["redirect_uri"] == [f"{hub.url}{USER_REDIRECT_CALLBACK}"]

    # The person's browser: the IdP (its form, unless its session from the hub login is enough), then the hub's
    # redirect URI, then the named server (whose own login at the hub the browser passes with its hub cookie).
    page = browser.get(authorization_url, follow_redirects=True)
    action = FORM_ACTION.search(page.text)
    if action and urlsplit(str(page.url)).hostname == "localhost":
        page = browser.post(
            urljoin(str(page.url), action.group(1)),
            data={"username": "alice", "password": DEMO_PASSWORD},
            follow_redirects=True,
        )
    visited = [str(r.url) for r in page.history] + [str(page.url)]
    at_hub = [url for url in visited if urlsplit(url).path.endswith(f"/{USER_REDIRECT_CALLBACK}")]
    assert at_hub, visited
    code = parse_qs(urlsplit(at_hub[0]).query)["code"][0]
    assert any(
        urlsplit(url).path.startswith(f"/user/alice/{SERVER_NAME}/token-broker/api/v1/callback") for url in visited
    ), visited
    assert page.status_code == 200, (page.status_code, page.text[:500])

    with server.token_client() as client:
        providers = client.get(server.api("providers")).json()["providers"]
    demo = next(p for p in providers if p["id"] == "demo")
    assert demo["signed_in"] is True, demo
    assert demo["account"] == "alice"
    output = run_in_user_kernel(
        server,
        'import json\nfrom jupyter_token_broker import get_token\nprint(json.dumps({"ok": bool(get_token("demo"))}))',
    )
    assert '{"ok": true}' in output, output
    # The code went through the hub, never through a URL the hub logs.
    assert code not in hub.log_text()
    assert json.dumps(code)[1:-1] not in e2e.idp.log_path.read_text()
