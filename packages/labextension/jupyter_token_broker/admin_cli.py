"""``jupyter token-broker-admin list|revoke|audit``: the hub's token-broker admin API from a terminal or a script,
for incident runbooks (docs/admin.md).

The hub URL comes from ``--hub-url`` or ``JUPYTERHUB_URL``; the API token only from ``--token-file`` (owner-only,
mode 0600) or a hidden prompt, never from an argument or an environment variable. Exit codes: 0 done, 1 a revocation
that did not fully succeed or a failed call (hub unreachable, hub error), 2 usage (bad arguments, a token file
others can read, no confirmation), 3 the hub refused the token (unknown, or without ``custom:token-broker:admin``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, NoReturn, TextIO

from .admin_client import (
    ADMIN_SCOPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    AdminError,
    HubAdminApi,
    api_base,
    is_plain_http_off_host,
    prompt_token,
    read_token_file,
)

PROG = "jupyter token-broker-admin"
#: The hub refuses longer reasons (the audit trail keeps them).
MAX_REASON = 500
MAX_AUDIT_LIMIT = 1000

TOKEN_RULES = f"""\
The API token needs the scope {ADMIN_SCOPE} (unfiltered: every user;
filtered with !user=NAME or !group=NAME: those users only). It is read ONLY from
--token-file FILE (a file of yours with mode 0600, refused otherwise, as ssh refuses
a private key others can read) or typed at a hidden prompt when stdin is a terminal.
It is never taken from a command-line argument or an environment variable
(JUPYTERHUB_API_TOKEN is ignored), and never printed.

exit codes: 0 done; 1 a revocation not fully done (partial or error outcome) or a
failed call (hub unreachable, hub error); 2 usage (bad arguments, token file others
can read, no confirmation); 3 the hub refused the token (unknown, expired, or
without {ADMIN_SCOPE})."""


@dataclass
class Terminal:
    """Where the CLI talks to a person: a seam for tests. ``ask`` reads one answer line, ``ask_secret`` reads
    without echo."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    isatty: Callable[[], bool] = field(default_factory=lambda: sys.stdin.isatty)
    ask_secret: Callable[[str], str] | None = None
    ask: Callable[[str], str] | None = None

    def confirm(self, question: str) -> str:
        if self.ask is not None:
            return self.ask(question)
        self.err.write(question)
        self.err.flush()
        return sys.stdin.readline()


class _Parser(argparse.ArgumentParser):
    """argparse, except that it never repeats an argument it did not expect: that may be a token someone pasted
    (``--token abc…``), and the error would put it in a terminal's scrollback or a CI log."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        if message.startswith("unrecognized arguments"):
            message = (
                "unrecognized arguments (not repeated here, in case one is a secret); the API token is read only "
                "from --token-file FILE or a prompt"
            )
        elif "invalid choice" in message:
            message = message.split(" (choose from", 1)[0].split(": invalid choice", 1)[0] + ": invalid choice"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``list``, ``revoke``, ``audit``); the common options go before or after the command."""
    # No abbreviations: `--token X` must never be taken as `--token-file X`.
    common = _Parser(add_help=False, allow_abbrev=False)
    connection = common.add_argument_group("hub")
    connection.add_argument(
        "--hub-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the hub's public URL, e.g. https://hub.example.org/ (default: $JUPYTERHUB_URL)",
    )
    connection.add_argument(
        "--token-file",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="a file holding the API token, mode 0600 (default: ask for it when stdin is a terminal)",
    )
    connection.add_argument(
        "--timeout",
        type=_positive_float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="how long to wait for each hub call (default 120)",
    )
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="List, revoke and audit token-broker grants across the users of a JupyterHub.",
        epilog=TOKEN_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="{list,revoke,audit}", required=True)

    listing = commands.add_parser(
        "list",
        parents=[common],
        allow_abbrev=False,
        help="who holds what: hub logins, servers, broker providers",
        description="What the hub and the users' running brokers hold (account, scopes, expiry; never a token).",
        epilog=TOKEN_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--user", action="append", default=[], metavar="NAME", help="only this user (repeatable)")
    listing.add_argument("--group", action="append", default=[], metavar="NAME", help="only this group (repeatable)")
    listing.add_argument("--json", action="store_true", help="print the hub's JSON answer")

    revoke = commands.add_parser(
        "revoke",
        parents=[common],
        allow_abbrev=False,
        help="revoke a user's grants (or everyone's)",
        description=(
            "Revoke at the identity provider and forget: the hub login's refresh token\n"
            "(RFC 7009) and its tokens in auth_state, and the grants of every broker of the\n"
            "user (running servers now, stopped servers at their next start). Revoking is\n"
            "not banning: the user can sign in again unless the identity provider disables them."
        ),
        epilog=TOKEN_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    whom = revoke.add_mutually_exclusive_group(required=True)
    whom.add_argument("user", nargs="?", metavar="USER", help="the user to revoke")
    whom.add_argument("--all", action="store_true", help="every user the token may administer (see --group)")
    revoke.add_argument(
        "--group", action="append", default=[], metavar="NAME", help="with --all: only the users of this group"
    )
    revoke.add_argument(
        "--provider",
        metavar="ID",
        help='only this broker provider ("hub" = the hub login only; default: the hub login and every provider)',
    )
    revoke.add_argument("--reason", required=True, help=f"why (1 to {MAX_REASON} characters; kept in the audit trail)")
    revoke.add_argument(
        "--force",
        action="store_true",
        help="forget locally even when the identity provider cannot be reached (its revocation is queued and retried)",
    )
    revoke.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    revoke.add_argument("--json", action="store_true", help="print the hub's JSON answer")

    audit = commands.add_parser(
        "audit",
        parents=[common],
        allow_abbrev=False,
        help="the hub-side audit trail, newest first",
        description="Who listed or revoked whom, what, when, and the outcome.",
        epilog=TOKEN_RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("--user", metavar="NAME", help="only events about this user")
    audit.add_argument(
        "--limit", type=int, default=100, metavar="N", help=f"at most N events (1 to {MAX_AUDIT_LIMIT}, default 100)"
    )
    audit.add_argument("--json", action="store_true", help="print the hub's JSON answer")
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return value


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    terminal: Terminal | None = None,
    opener: Any = None,
) -> int:
    """Runs the CLI; returns its exit code. ``environ``, ``terminal`` and ``opener`` are seams for tests."""
    term = terminal or Terminal()
    parser = build_parser()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        _check_arguments(args)
        hub_url = getattr(args, "hub_url", None) or env.get("JUPYTERHUB_URL")
        if not hub_url:
            raise AdminError("no hub URL: give --hub-url https://hub.example.org/ or set JUPYTERHUB_URL", EXIT_USAGE)
        base = api_base(hub_url)
        if is_plain_http_off_host(base):
            term.err.write(f"{PROG}: warning: the API token goes unencrypted (plain http) to {base}\n")
        token_file = getattr(args, "token_file", None)
        if token_file:
            token = read_token_file(token_file)
        else:
            token = prompt_token(hub_url, stdin_isatty=term.isatty, ask=term.ask_secret)
        api = HubAdminApi(hub_url, token, timeout=getattr(args, "timeout", 120), opener=opener)
        return COMMANDS[args.command](api, args, term)
    except AdminError as err:
        term.err.write(f"{PROG}: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        term.err.write(f"{PROG}: interrupted\n")
        return 130


def _check_arguments(args: argparse.Namespace) -> None:
    """What argparse cannot say; usage errors (exit 2) before any token is read or any call made."""
    if args.command == "revoke":
        reason = args.reason.strip()
        if not 1 <= len(reason) <= MAX_REASON:
            raise AdminError(f"--reason must be 1 to {MAX_REASON} characters", EXIT_USAGE)
        args.reason = reason
        if args.group and not args.all:
            raise AdminError("--group goes with --all (revoke USER names one user)", EXIT_USAGE)
        if args.provider is not None and not args.provider.strip():
            raise AdminError("--provider needs a provider id (leave it out to revoke everything)", EXIT_USAGE)
    if args.command == "audit" and not 1 <= args.limit <= MAX_AUDIT_LIMIT:
        raise AdminError(f"--limit must be 1 to {MAX_AUDIT_LIMIT}", EXIT_USAGE)


def run_list(api: HubAdminApi, args: argparse.Namespace, term: Terminal) -> int:
    answer = api.list_users(args.user, args.group)
    if args.json:
        _print_json(answer, term)
        return EXIT_OK
    users = answer.get("users") or []
    rows = [("USER", "HUB LOGIN", "EXPIRES", "LAST USED", "SERVER", "BROKER PROVIDERS", "ORDERS")]
    running = 0
    for user in users:
        login = user.get("hub_login") or {}
        head = (
            str(user.get("name", "")),
            (login.get("account") or "held") if login.get("held") else "-",
            _epoch(login.get("expires_at")) if login.get("held") else "",
            _iso(login.get("last_used_at")),
        )
        servers = user.get("servers") or []
        running += sum(1 for server in servers if server.get("running"))
        orders = str(user.get("pending_orders", 0))
        if not servers:
            rows.append((*head, "-", "", orders))
        for index, server in enumerate(servers):
            row_head = head if index == 0 else ("", "", "", "")
            rows.append(
                (*row_head, server.get("name") or "(default)", _providers(server), orders if index == 0 else "")
            )
    _print_table(rows, term)
    held = sum(1 for user in users if (user.get("hub_login") or {}).get("held"))
    term.out.write(f"{len(users)} user(s), {held} with a hub login, {running} running server(s)\n")
    return EXIT_OK


def _providers(server: dict[str, Any]) -> str:
    if not server.get("running"):
        return "stopped"
    error = server.get("error")
    if error:
        return f"not answered: {error.get('code', 'error')}"
    if server.get("broker_running") is False:
        return "broker not running"
    parts = []
    for provider in server.get("providers") or []:
        state = (provider.get("account") or "signed in") if provider.get("signed_in") else "signed out"
        parts.append(f"{provider.get('id')}: {state}")
    return "; ".join(parts) or "none"


def run_revoke(api: HubAdminApi, args: argparse.Namespace, term: Terminal) -> int:
    what = _what(args.provider)
    if args.all:
        groups = f" in group(s) {', '.join(args.group)}" if args.group else ""
        question = f"Revoke {what} of EVERY user this token administers{groups}? Type 'yes' to go on: "
        expected = ("yes",)
    else:
        question = f"Revoke {what} of user {args.user!r}? [y/N] "
        expected = ("y", "yes")
    if not args.yes:
        if not term.isatty():
            raise AdminError("revoke asks for confirmation: run it in a terminal, or pass --yes", EXIT_USAGE)
        if term.confirm(question).strip().lower() not in expected:
            term.err.write(f"{PROG}: not revoked\n")
            return EXIT_FAILED
    body: dict[str, Any] = {"provider": args.provider, "reason": args.reason, "force": args.force}
    if args.all:
        if args.group:
            body["groups"] = args.group
        results = api.revoke_all(body).get("results") or []
    else:
        results = [api.revoke_user(args.user, body)]
    if args.json:
        _print_json({"results": results} if args.all else results[0], term)
    else:
        _print_revocations(results, term, compact=args.all)
    return EXIT_OK if all(result.get("outcome") == "ok" for result in results) else EXIT_FAILED


def _what(provider: str | None) -> str:
    if provider is None:
        return "the hub login and every broker provider"
    if provider == "hub":
        return "the hub login"
    return f"provider {provider!r}"


def _print_revocations(results: list[dict[str, Any]], term: Terminal, *, compact: bool) -> None:
    for result in results:
        provider = result.get("provider")
        term.out.write(f"{result.get('user')}: {result.get('outcome')} ({_what(provider)})\n")
        for step in result.get("steps") or []:
            outcome = step.get("outcome", "")
            if compact and outcome == "ok":
                continue
            detail = ": ".join(str(step[key]) for key in ("code", "description") if step.get(key))
            target = str(step.get("target", ""))
            if target == "server:":
                target = "server:(default)"
            term.out.write(f"  {target:<20} {outcome:<8} {detail}".rstrip() + "\n")
    if compact:
        counts: dict[str, int] = {}
        for result in results:
            counts[str(result.get("outcome"))] = counts.get(str(result.get("outcome")), 0) + 1
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
        term.out.write(f"{len(results)} user(s): {summary or 'none matched'}\n")


def run_audit(api: HubAdminApi, args: argparse.Namespace, term: Terminal) -> int:
    answer = api.audit(args.user, args.limit)
    if args.json:
        _print_json(answer, term)
        return EXIT_OK
    rows = [("TIME", "ACTOR", "USER", "ACTION", "PROVIDER", "OUTCOME", "CODE", "REASON")]
    for event in answer.get("events") or []:
        provider = event.get("provider")
        rows.append(
            (
                _iso(event.get("time")),
                str(event.get("actor") or ""),
                str(event.get("user") or ""),
                str(event.get("action") or ""),
                "(all)" if provider is None and event.get("action") == "revoke" else str(provider or ""),
                str(event.get("outcome") or ""),
                str(event.get("code") or ""),
                _one_line(str(event.get("reason") or "")),
            )
        )
    _print_table(rows, term)
    return EXIT_OK


def _print_json(answer: Any, term: Terminal) -> None:
    term.out.write(json.dumps(answer, indent=2, sort_keys=True) + "\n")


def _print_table(rows: list[tuple[str, ...]], term: Terminal) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        term.out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


def _epoch(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


COMMANDS: dict[str, Callable[[HubAdminApi, argparse.Namespace, Terminal], int]] = {
    "list": run_list,
    "revoke": run_revoke,
    "audit": run_audit,
}


def run() -> None:
    """The console script ``jupyter-token-broker-admin``."""
    sys.exit(main())


if __name__ == "__main__":
    run()
