"""A browser-like session on a Jupyter server: cookie login through Jupyter's login form, XSRF header."""

from __future__ import annotations

import httpx

from jupyter_process import JupyterServer


def browser_login(server: JupyterServer) -> httpx.Client:
    """A client holding Jupyter's login cookie (and ``_xsrf`` cookie), as a browser would after signing in."""
    client = httpx.Client(timeout=30, trust_env=False, follow_redirects=False)
    client.get(f"{server.url}login")
    xsrf = client.cookies.get("_xsrf")
    assert xsrf, "Jupyter's login page sets the _xsrf cookie"
    response = client.post(f"{server.url}login", data={"password": server.token, "_xsrf": xsrf})
    assert response.status_code == 302, response.text
    return client


def xsrf_headers(client: httpx.Client) -> dict[str, str]:
    """The header JupyterLab sends with every state-changing request."""
    return {"X-XSRFToken": client.cookies["_xsrf"]}
