"""The hub's token-broker admin API as the CLI calls it: where it is, the admin's API token (from an owner-only
file or a prompt, never an argument or an environment variable), and one request function whose failures are
``AdminError`` with a one-line message naming the cause and the fix, and the CLI's exit code.

Only the standard library (``urllib``): the CLI runs wherever the package is installed, hub or laptop.
"""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import socket
import ssl
import stat
import sys
import urllib.error
import urllib.request
from typing import Any, Callable
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

#: The custom scope every admin route checks (the hub's ``ADMIN_SCOPE``; not imported, so this module does not
#: need JupyterHub installed).
ADMIN_SCOPE = "custom:token-broker:admin"
#: Exit codes of ``jupyter token-broker-admin``.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
#: A hub API token is 32 bytes of hex (JupyterHub's) or similar; anything much longer is not a token file.
MAX_TOKEN_FILE_BYTES = 4096
#: The most of an answer body read (a list of 500 users with their servers is well under 1 MB).
MAX_ANSWER_BYTES = 32 * 1024 * 1024


class AdminError(Exception):
    """A failure the CLI reports as one line (``str(err)``) and exits with ``exit_code``; never holds the token."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def api_base(hub_url: str) -> str:
    """The admin API's base URL (``…/hub/api/token-broker/v1/admin/``) from the hub's public URL.

    Accepts the hub's public URL (``https://hub.example.org/``), its hub prefix (``…/hub/``) or its API URL
    (``…/hub/api``, the form of ``JUPYTERHUB_API_URL``). Refuses anything but http(s), and URLs carrying a user,
    password, query or fragment (a secret there would sit in the shell's history and in process listings).

    @raises AdminError: exit code 2.
    """
    parts = urlsplit(hub_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AdminError(
            f"--hub-url {hub_url!r} is not an http(s) URL: give the hub's public URL, e.g. https://hub.example.org/",
            EXIT_USAGE,
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise AdminError(
            "--hub-url must not carry a user, password, query or fragment: give the hub's public URL only "
            "(the API token comes from --token-file or the prompt)",
            EXIT_USAGE,
        )
    path = parts.path.rstrip("/")
    if path.endswith("/hub/api"):
        path += "/"
    elif path.endswith("/hub"):
        path += "/api/"
    else:
        path += "/hub/api/"
    return urlunsplit((parts.scheme, parts.netloc, path + "token-broker/v1/admin/", "", ""))


def is_plain_http_off_host(url: str) -> bool:
    """Whether ``url`` sends the token unencrypted to another machine (http to a host that is not loopback)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def read_token_file(path: str) -> str:
    """The API token in ``path``, refused unless the file is a regular file owned by this user and readable by
    no one else (mode 0600 or 0400), as ssh refuses a private key that others can read.

    @raises AdminError: exit code 2, naming the file and the fix (``chmod 600 FILE``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        # Never echo what may be the token itself, given by mistake in place of a path.
        named = path if any(mark in path for mark in "/.~") else "named by --token-file"
        raise AdminError(
            f"token file {named} does not exist (give the path of a file holding the token, never the token)",
            EXIT_USAGE,
        ) from None
    except PermissionError:
        raise AdminError(f"token file {path} cannot be read by this user", EXIT_USAGE) from None
    except OSError as err:
        # O_NOFOLLOW answers ELOOP for a symbolic link: the file's owner and mode are what must be checked.
        raise AdminError(
            f"token file {path} cannot be opened ({err.strerror}); give the file itself, not a symbolic link",
            EXIT_USAGE,
        ) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        refusal = _token_file_refusal(path, info)
        if refusal:
            raise AdminError(refusal, EXIT_USAGE)
        raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise AdminError(f"token file {path} is longer than {MAX_TOKEN_FILE_BYTES} bytes: not a token", EXIT_USAGE)
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    return _checked_token(token, f"token file {path}")


def _token_file_refusal(path: str, info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return f"token file {path} is not a regular file"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"token file {path} belongs to another user (uid {info.st_uid}): copy it to a file of yours, mode 0600"
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return (
            f"token file {path} is readable or writable by others (mode {mode:04o}): run `chmod 600 {path}` "
            "(it must be owner-only, as ssh requires of a private key)"
        )
    return None


def _checked_token(token: str, where: str) -> str:
    if not token:
        raise AdminError(f"{where} holds no token", EXIT_USAGE)
    # One printable line: the token goes into an HTTP header.
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise AdminError(f"{where} must hold the token alone, on one line", EXIT_USAGE)
    return token


def prompt_token(
    hub_url: str, *, stdin_isatty: Callable[[], bool] | None = None, ask: Callable[[str], str] | None = None
) -> str:
    """The API token typed at a hidden prompt; refused when stdin is not a terminal (scripts use --token-file).

    @raises AdminError: exit code 2.
    """
    isatty = stdin_isatty or sys.stdin.isatty
    if not isatty():
        raise AdminError(
            "no API token: give --token-file FILE (mode 0600), or run in a terminal to be asked for it "
            "(a token is never read from an argument or an environment variable)",
            EXIT_USAGE,
        )
    try:
        typed = (ask or getpass.getpass)(f"API token for {hub_url} (needs {ADMIN_SCOPE}; not echoed): ")
    except (EOFError, KeyboardInterrupt):
        raise AdminError("no API token typed", EXIT_USAGE) from None
    return _checked_token(typed.strip(), "the typed token")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header, to any host: the admin API never
    redirects, so a redirect means a wrong URL (e.g. the hub's login page) and is reported, never followed."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class HubAdminApi:
    """The admin routes under ``{hub}/hub/api/token-broker/v1/admin/``, called with ``Authorization: token …``.

    ``opener`` is a seam for tests (default: urllib without redirects, the system's CA certificates).
    """

    def __init__(self, hub_url: str, token: str, *, timeout: float = 60, opener: Any = None) -> None:
        self.base = api_base(hub_url)
        self.timeout = timeout
        self._token = token
        self._opener = opener or urllib.request.build_opener(_NoRedirects)

    def __repr__(self) -> str:
        return f"HubAdminApi({self.base!r})"

    def list_users(self, users: list[str], groups: list[str]) -> dict[str, Any]:
        """``GET admin/users``: what the hub and the users' running brokers hold (no token material)."""
        return self._call("GET", "users", query=[("user", u) for u in users] + [("group", g) for g in groups])

    def revoke_user(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST admin/users/{user}/revoke``: the per-user answer ``{user, provider, outcome, steps}``."""
        return self._call("POST", f"users/{_segment(user)}/revoke", body=body, about=user)

    def revoke_all(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST admin/revoke``: ``{results: [per-user answer]}`` for every user (or group) the token covers."""
        return self._call("POST", "revoke", body=body)

    def audit(self, user: str | None, limit: int) -> dict[str, Any]:
        """``GET admin/audit``: ``{events: [...]}``, newest first."""
        query = [("user", user)] if user else []
        return self._call("GET", "audit", query=[*query, ("limit", str(limit))])

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        about: str | None = None,
    ) -> dict[str, Any]:
        url = self.base + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Authorization": f"token {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - http(s) only
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return _json_body(answer.read(MAX_ANSWER_BYTES), answer.status, self.base)
        except urllib.error.HTTPError as err:
            with err:
                raw = err.read(MAX_ANSWER_BYTES)
            answer = _json_or_none(raw)
            # A per-user revoke that failed at the IdP still reports its steps (503 with the answer's body).
            if isinstance(answer, dict) and "steps" in answer and "outcome" in answer:
                return answer
            raise _http_failure(err.code, answer, err.headers, self.base, about) from None
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise _unreachable(err, self.base) from None


def _segment(name: str) -> str:
    return quote(name, safe="")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _json_body(raw: bytes, status: int, base: str) -> dict[str, Any]:
    answer = _json_or_none(raw)
    if not isinstance(answer, dict):
        raise AdminError(
            f"the hub answered {status} without a JSON object at {base}: is --hub-url the hub's public URL, "
            "and is jupyter_token_broker's hub side (configure(c)) installed there?"
        )
    return answer


def _http_failure(  # noqa: PLR0911 - one message per kind of refusal
    status: int, answer: Any, headers: Any, base: str, about: str | None
) -> AdminError:
    error = answer.get("error") if isinstance(answer, dict) else None
    description = answer.get("error_description") if isinstance(answer, dict) else None
    said = f" ({description.strip().rstrip('.')})" if isinstance(description, str) and description.strip() else ""
    if status in (301, 302, 303, 307, 308):
        return AdminError(
            f"the hub answered with a redirect ({status}) instead of the admin API at {base}: "
            "check --hub-url (the hub's public URL, with its base URL if it has one)"
        )
    if status == 401 or (status == 403 and error is None):
        return AdminError(
            f"the hub refused the API token ({status}){said}: it is unknown, expired or revoked; make a new one "
            f"on the hub's token page ({base.split('api/token-broker/', maxsplit=1)[0]}token)",
            EXIT_REFUSED,
        )
    if status == 403:
        whom = f" for user {about!r}" if about else ""
        return AdminError(
            f"forbidden (403): this token lacks {ADMIN_SCOPE}{whom}{said}; use a token of a role that holds it "
            f"(e.g. load_roles scopes [{ADMIN_SCOPE!r}])",
            EXIT_REFUSED,
        )
    if status == 404 and error is None:
        return AdminError(
            f"the hub has no token-broker admin API at {base} (404): check --hub-url, and that the hub's "
            "jupyterhub_config.py calls jupyter_token_broker.hub.configure(c) with this version installed"
        )
    if status == 404:
        return AdminError(f"not found{said} (404 {error})")
    if status == 400:
        return AdminError(f"the hub refused the request{said} (400 {error})", EXIT_USAGE)
    if status == 503:
        retry = headers.get("Retry-After") if headers is not None else None
        later = f"; retry in {retry} s" if retry else ""
        return AdminError(
            f"unavailable (503 {error or 'upstream_unavailable'}){said}{later}; `revoke --force` forgets the hub "
            "login anyway and queues the identity provider's revocation"
        )
    if status >= 500:
        return AdminError(f"the hub failed ({status} {error or 'server_error'}){said}; the hub's log has the details")
    return AdminError(f"the hub answered {status} {error or ''}{said}".rstrip())


def _unreachable(err: BaseException, base: str) -> AdminError:
    reason = getattr(err, "reason", err)
    if isinstance(reason, ssl.SSLCertVerificationError):
        cause = f"its TLS certificate is not trusted ({reason.verify_message})"
        fix = "give the hub's public https URL, or trust its CA (SSL_CERT_FILE)"
    elif isinstance(reason, (socket.timeout, TimeoutError)):
        cause = "no answer in time"
        fix = "check that the hub runs and answers, or raise --timeout"
    elif isinstance(reason, ConnectionRefusedError):
        cause = "connection refused"
        fix = "check --hub-url / JUPYTERHUB_URL and that the hub is running"
    elif isinstance(reason, socket.gaierror):
        cause = "unknown host"
        fix = "check --hub-url / JUPYTERHUB_URL"
    else:
        cause = str(reason) or type(reason).__name__
        fix = "check --hub-url / JUPYTERHUB_URL and that the hub is running"
    return AdminError(f"cannot reach the hub at {base} ({cause}): {fix}")
