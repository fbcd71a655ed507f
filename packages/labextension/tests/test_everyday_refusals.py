"""Everyday refusals read as such: a notebook's ``LoginRequired`` shows the message under a short traceback, and a
plugin asking before the person decided is an info line in the server log, not a ``[W] 403`` warning."""

from __future__ import annotations

import io
import re
import traceback
from contextlib import redirect_stdout

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_token_broker import LoginRequired, auth_header, get_token
from jupyter_token_broker.discovery import ServerInfo

from browser_session import browser_login, xsrf_headers
from jupyter_process import JupyterServer, runtime_info, wait_until

PLUGIN = "@acme/archive-browser:plugin"


def server_info(server: JupyterServer) -> ServerInfo:
    info = runtime_info(server)
    return ServerInfo(url=info["url"], token=info["token"])


@pytest.fixture
def signed_out(server: JupyterServer) -> None:
    browser = browser_login(server)
    browser.delete(server.api("providers/demo/grant"), headers=xsrf_headers(browser))


@pytest.mark.usefixtures("signed_out")
@pytest.mark.parametrize("entry_point", [get_token, auth_header])
def test_login_required_is_raised_at_the_entry_point_without_the_helpers_plumbing(
    server: JupyterServer, entry_point
) -> None:
    with pytest.raises(LoginRequired) as raised:
        entry_point("demo", server=server_info(server))
    frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert frames[-1] == entry_point.__name__
    assert not {"request_token", "_error_from_response", "get_token"} & set(frames[1:-1])
    assert "request_token" not in frames
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


@pytest.mark.usefixtures("signed_out")
def test_a_notebook_shows_login_required_under_a_short_traceback(server: JupyterServer) -> None:
    shell = InteractiveShell.instance(colors="nocolor")
    shell.user_ns["server"] = server_info(server)
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            shell.run_cell('from jupyter_token_broker import get_token\nget_token("demo", server=server)\n')
    finally:
        InteractiveShell.clear_instance()
    shown = out.getvalue()
    assert "LoginRequired: Provider 'demo' needs a login: open the Token Broker panel in JupyterLab and sign in." in (
        shown
    )
    # One frame of the package, the entry point the cell called; none of its internals, no chained exception.
    assert re.findall(r"^File .*, in (\w+)\(", shown, re.MULTILINE) == ["get_token"], shown
    assert "During handling of the above exception" not in shown


def test_a_plugin_without_consent_is_an_info_line_not_a_403_warning(server: JupyterServer) -> None:
    start = len(server.log_text())
    with server.token_client() as client:
        answer = client.post(server.api("providers/demo/token"), json={}, headers={"X-Token-Broker-Client": PLUGIN})
    assert answer.status_code == 403
    assert answer.json()["error"] == "consent_required"

    expected = (
        f"token-broker: {PLUGIN} asked for 'demo' tokens: no consent decision yet, JupyterLab asks the person"
        " (consent_required)"
    )
    access_line = re.compile(r"\b403 POST /token-broker/api/v1/providers/demo/token\b")

    def both_logged() -> bool:
        log = server.log_text()[start:]
        return expected in log and access_line.search(log) is not None

    # The access-log line comes after the info line, once the answer is finished.
    wait_until(both_logged, 30, what="the info line and the access-log line of the refusal")
    log = server.log_text()[start:]
    (line,) = [line for line in log.splitlines() if expected in line]
    assert line.startswith("[I ")
    refused_requests = [line for line in log.splitlines() if access_line.search(line)]
    assert all(line.startswith("[D ") for line in refused_requests), refused_requests
