"""The in-repo demo IdP (``packages/demo/idp.mjs``, a real oidc-provider) and a person signing in to it."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from browser_session import xsrf_headers
from jupyter_process import REPO_DIR, JupyterServer

IDP_SCRIPT = REPO_DIR / "packages" / "demo" / "idp.mjs"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


@dataclass
class DemoIdp:
    issuer: str
    process: subprocess.Popen[bytes]
    #: the demo API's URL, the audience of the access tokens this IdP issues
    api_url: str = ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_idp(
    port: int, jupyter_ports: list[int], api_port: int | None = None, access_token_ttl: int | None = None
) -> DemoIdp:
    """Starts the demo IdP and waits for its ready line. Its tokens are for the demo API on ``api_port`` (by
    default the port after the IdP's) and live ``access_token_ttl`` seconds (by default the demo's 60)."""
    api_url = f"http://127.0.0.1:{api_port or port + 1}"
    argv = ["node", str(IDP_SCRIPT), "--port", str(port), "--api-url", api_url]
    if access_token_ttl is not None:
        argv += ["--access-token-ttl", str(access_token_ttl)]
    for jupyter_port in jupyter_ports:
        argv += ["--jupyter-port", str(jupyter_port)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(IDP_SCRIPT.parent))
    assert process.stdout is not None
    line = process.stdout.readline()
    ready = json.loads(line) if line else {}
    if not ready.get("ready"):
        process.kill()
        raise RuntimeError(f"demo IdP did not start: {line!r}")
    return DemoIdp(issuer=ready["issuer"], process=process, api_url=ready["resource"])


@dataclass
class SignIn:
    """What one completed sign-in left behind: the callback response and the authorization code it carried."""

    callback: httpx.Response
    authorization_code: str


def sign_in(browser: httpx.Client, server: JupyterServer, provider: str, username: str, password: str) -> SignIn:
    """Signs in like the panel's popup: start the login, fill the IdP's form, follow redirects to the callback."""
    started = browser.post(server.api(f"providers/{provider}/login"), json={}, headers=xsrf_headers(browser))
    assert started.status_code == 200, started.text
    authorization_url = started.json()["authorization_url"]
    form_page = browser.get(authorization_url, follow_redirects=True)
    assert form_page.status_code == 200, form_page.text
    action = FORM_ACTION.search(form_page.text)
    assert action, "the IdP's sign-in form"
    callback = browser.post(
        urljoin(str(form_page.url), action.group(1)),
        data={"username": username, "password": password},
        follow_redirects=True,
    )
    redirect_to_callback = next(
        (r for r in callback.history if r.headers.get("Location", "").startswith(server.api("callback"))), None
    )
    assert redirect_to_callback is not None, [str(r.url) for r in callback.history]
    code = parse_qs(urlsplit(redirect_to_callback.headers["Location"]).query)["code"][0]
    return SignIn(callback=callback, authorization_code=code)
