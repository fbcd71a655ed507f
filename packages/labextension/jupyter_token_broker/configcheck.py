"""The broker's own check of its config, run once at server start before the broker is launched.

``token-broker check-config --probe CONFIG`` validates everything the broker would (every key, with "did you mean"
suggestions, providers named by id), opens the store without creating anything, reads each provider's client
secret file and asks each issuer for its discovery document. It answers one JSON line: ``{"ok": true, ...,
"problems": [...]}`` when the broker can start (the problems are providers that will not work until fixed), or
``{"ok": false, "error": ..., "error_description": ...}`` when it cannot. A refusal that no retry can change (a
static mistake in the config, a Node.js too old) means the broker is never launched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATIC_ERRORS = frozenset({"config_error", "unsupported_node"})
"""check-config's ``error`` codes that no retry can change: the broker is not launched."""

PROBE_SECONDS = 5.0
"""The broker's own limit on the discovery probe (``PROBE_MS`` in ``cli.ts``)."""

CLI_PREFIX = "token-broker: "
"""How the broker's command line starts its plain-text lines (the server's log adds its own)."""


@dataclass(frozen=True)
class ProviderProblem:
    """A provider that will not work until fixed: its id, a stable code and what is wrong."""

    provider: str
    code: str
    description: str


@dataclass(frozen=True)
class ConfigCheck:
    """What check-config said."""

    refusal: str | None = None
    """Why the broker must not be launched (one line), or None."""
    problems: list[ProviderProblem] = field(default_factory=list)
    """Providers that will not work until fixed; the broker is launched anyway."""
    note: str | None = None
    """The check itself could not decide (e.g. the store did not answer): launch and let the broker say."""


def without_cli_prefix(line: str) -> str:
    """A broker line without its own ``token-broker:`` prefix, so the log does not say it twice."""
    return line[len(CLI_PREFIX) :] if line.startswith(CLI_PREFIX) else line


def parse_check_output(stdout: bytes, stderr: bytes) -> ConfigCheck:
    """check-config's answer from its output: the last stdout line is its JSON verdict."""
    lines = [line for line in stdout.decode(errors="replace").splitlines() if line.strip()]
    verdict: Any = None
    if lines:
        with contextlib.suppress(ValueError):
            verdict = json.loads(lines[-1])
    if not isinstance(verdict, dict):
        last = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
        return ConfigCheck(note=without_cli_prefix(last[-1]) if last else "check-config gave no answer")
    if verdict.get("ok") is True:
        problems = [
            ProviderProblem(str(p.get("provider")), str(p.get("error")), str(p.get("error_description")))
            for p in verdict.get("problems", [])
            if isinstance(p, dict)
        ]
        return ConfigCheck(problems=problems)
    description = str(verdict.get("error_description") or verdict.get("error") or "refused")
    if verdict.get("error") in STATIC_ERRORS:
        return ConfigCheck(refusal=description)
    return ConfigCheck(note=f"{verdict.get('error')}: {description}")


async def check_broker_config(
    argv_prefix: list[str], config_file: Path, *, env: dict[str, str], cwd: Path, timeout: float
) -> ConfigCheck:
    """Runs ``check-config --probe`` on the broker's config file.

    :param argv_prefix: ``[node, script]``
    :param timeout: seconds to wait for the check (the probe itself stops after :data:`PROBE_SECONDS`)
    :raises OSError: when node cannot be run (the caller reports it as it reports a failed launch)
    """
    process = await asyncio.create_subprocess_exec(
        *argv_prefix,
        "check-config",
        "--probe",
        str(config_file),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(cwd),
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as stopped:
        # Also when the server stops during the check: no check-config outlives it.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if isinstance(stopped, asyncio.CancelledError):
            raise
        return ConfigCheck(note=f"check-config did not finish within {timeout:.0f} s")
    return parse_check_output(stdout, stderr)
