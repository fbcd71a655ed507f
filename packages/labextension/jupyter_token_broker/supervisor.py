"""Launches the broker process, waits for its ready line, restarts it with backoff when it dies, stops it.

The broker gets only paths on its command line (config, key file, socket) and a minimal environment
(``PATH``, ``HOME``, ``LANG``): no secret ever travels through an environment variable. In particular it never
inherits the server's ``JUPYTERHUB_API_TOKEN`` (nor any other ``JUPYTERHUB_*`` variable); the hub provider's token
reaches it inside the 0600 config file.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import NODE_MISSING
from .configcheck import PROBE_SECONDS, check_broker_config, without_cli_prefix
from .rundir import RunDir

ENV_ALLOWLIST = ("PATH", "HOME", "LANG")
"""The only variables the broker inherits."""

STOP_GRACE_SECONDS = 5.0
"""How long a broker may take to close after SIGTERM before it is killed."""

LINE_LIMIT = 1 << 20
"""Longest stdout/stderr line read from the broker."""

CONFIG_FIX = "fix c.TokenBroker in the Jupyter server's configuration, then restart the server"
"""What an admin does about a refused config; said with the reason in the log and in every 503 answer."""

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``base`` doubled per consecutive crash up to ``cap``; a broker up ``stable`` s resets it."""

    base: float = 0.5
    cap: float = 30.0
    stable: float = 60.0

    def delay(self, crashes: int) -> float:
        """Seconds to wait before the restart after ``crashes`` consecutive crashes (1 = the first)."""
        return min(self.cap, self.base * 2 ** max(0, crashes - 1))

    def is_stable(self, uptime: float) -> bool:
        """Whether a broker that ran ``uptime`` seconds counts as healthy (its crash starts a new series)."""
        return uptime >= self.stable


def minimal_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The broker's environment: a copy of the allow-listed variables only."""
    environ = dict(os.environ) if environ is None else environ
    return {name: environ[name] for name in ENV_ALLOWLIST if name in environ}


def parse_ready_line(line: bytes) -> dict[str, Any] | None:
    """The broker's ``{"ready":true,...}`` line as a dict, or None for any other line."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("ready") is True:
        return message
    return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the broker gets SIGTERM if the Jupyter server dies without stopping it (e.g. SIGKILL)."""
    try:
        import ctypes  # noqa: PLC0415

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except Exception:  # noqa: S110 - best effort only
        pass


BeforeServing = Callable[[], Awaitable[None]]
"""Work a started broker must have done before it serves anything (the hub's revocation orders); raises
:class:`NotServingYet` when it could not be done yet."""


class NotServingYet(Exception):
    """``before_serving`` could not be done yet; the message is a one-line reason that holds nothing secret."""


class BrokerSupervisor:
    """Runs one broker for the lifetime of the Jupyter server.

    ``ready`` tells whether requests can be forwarded; ``socket`` and ``key`` are what the proxy needs.

    ``before_serving`` (set before :meth:`start`) runs once a launched broker is ready and before ``ready`` turns
    true; while it fails it is retried with backoff and the broker serves nothing (``held`` says why). Once it has
    succeeded it is not run again: a broker restarted after a crash serves at once.
    """

    def __init__(
        self,
        *,
        config: dict[str, Any],
        node_executable: str,
        broker_script: str,
        startup_timeout: float,
        log: logging.Logger,
        backoff: Backoff | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self._config = config
        self._node = node_executable
        self._script = broker_script
        self._startup_timeout = startup_timeout
        self.log = log
        self._backoff = backoff or Backoff()
        self._base_dir = base_dir
        self._rundir: RunDir | None = None
        self._key = ""
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._last_error_line: str | None = None
        self.start_failure: str | None = None
        """Why the last broker exited before it was ready (its own one-line message), for 503 answers."""
        self.config_error: str | None = None
        """Why the broker is never launched (a static mistake in its config, one line), for 503 answers."""
        self._stopping = False
        self.pid: int | None = None
        self.restarts = 0
        self.before_serving: BeforeServing | None = None
        self._before_serving_running = False
        self._before_serving_tried = asyncio.Event()
        self.held: str | None = None
        """Why a running broker serves nothing yet (``before_serving`` failed; one line, nothing secret)."""
        self.hold_backoff = Backoff(base=1.0, cap=15.0)
        """Delays between attempts of ``before_serving``."""

    @property
    def ready(self) -> bool:
        """True while a broker is running and has said it listens."""
        return self._ready.is_set()

    @property
    def preparing(self) -> bool:
        """True while a running broker's ``before_serving`` makes its first attempt (worth a short wait)."""
        return self._before_serving_running and self.held is None

    @property
    def socket(self) -> str:
        """The broker's unix socket path."""
        return str(self._require_rundir().socket)

    @property
    def key(self) -> str:
        """The shared key the broker requires in ``X-Broker-Key``; never log it."""
        return self._key

    def argv(self) -> list[str]:
        """The broker's command line: paths only."""
        rundir = self._require_rundir()
        return [
            self._node,
            self._script,
            "serve",
            "--config",
            str(rundir.config_file),
            "--key-file",
            str(rundir.key_file),
            "--socket",
            str(rundir.socket),
        ]

    def _require_rundir(self) -> RunDir:
        if self._rundir is None:
            raise RuntimeError("broker not prepared")
        return self._rundir

    def prepare(self) -> None:
        """Creates the private directory with the config and a new key; ``socket`` and ``key`` are known after."""
        if self._rundir is None:
            self._rundir, self._key = RunDir.create(self._config, self._base_dir)
            # Also when the server exits without stopping extensions (e.g. it fails to start).
            atexit.register(self._rundir.remove)

    async def start(self) -> None:
        """Starts supervising (``prepare()`` first if needed); returns once the first launch was attempted."""
        if self._task is not None or self.config_error is not None:
            return
        self.prepare()
        first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(first_attempt))
        await first_attempt.wait()

    async def wait_prepared(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for the running first attempt of ``before_serving`` to end; whether the
        broker is ready then."""
        if self.preparing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._before_serving_tried.wait(), timeout)
        return self.ready

    async def wait_ready(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for a ready broker."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self.ready

    async def stop(self) -> None:
        """Stops the broker (SIGTERM, then SIGKILL after a grace period) and deletes its directory."""
        self._stopping = True
        self._ready.clear()
        await self._terminate()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._rundir is not None:
            self._rundir.remove()

    def refuse(self, reason: str) -> None:
        """Never launches the broker: its config has a mistake that no retry can fix. Logs it once."""
        self.config_error = reason
        self.log.error("token-broker: not started: %s (%s)", reason, CONFIG_FIX)

    async def _config_accepted(self, first_attempt: asyncio.Event) -> bool:
        """Runs the broker's check-config once, before the first launch; False when it refused the config."""
        # The check may wait for a slow issuer: the server's start does not wait for it.
        first_attempt.set()
        rundir = self._require_rundir()
        try:
            check = await check_broker_config(
                [self._node, self._script],
                rundir.config_file,
                env=minimal_environment(),
                cwd=rundir.path,
                timeout=self._startup_timeout + PROBE_SECONDS,
            )
        except OSError:
            return True  # node cannot be run: the launch says so
        if check.refusal is not None:
            self.refuse(check.refusal)
            return False
        if check.note is not None:
            self.log.warning("token-broker: config check: %s", check.note)
        for problem in check.problems:
            self.log.warning(
                "token-broker: provider %r will not work until fixed: %s (%s)",
                problem.provider,
                problem.description,
                problem.code,
            )
        return True

    async def _supervise(self, first_attempt: asyncio.Event) -> None:
        if not await self._config_accepted(first_attempt):
            return
        crashes = 0
        while not self._stopping:
            started = time.monotonic()
            try:
                exit_code = await self._run_once(first_attempt)
            except OSError as err:
                # node missing or not executable: nothing in it is secret.
                if isinstance(err, FileNotFoundError) and shutil.which(self._node) is None:
                    self.start_failure = f"{NODE_MISSING} ({self._node!r} was not found)"
                else:
                    self.start_failure = f"could not start {self._node}: {err.strerror or err}"
                self.log.error("token-broker: %s", self.start_failure)
                exit_code = None
            finally:
                first_attempt.set()
            if self._stopping:
                return
            if self.start_failure is not None and self.start_failure.startswith("config: "):
                self.refuse(self.start_failure)  # the broker refused its config itself: retrying changes nothing
                return
            crashes = 1 if self._backoff.is_stable(time.monotonic() - started) else crashes + 1
            delay = self._backoff.delay(crashes)
            self.log.warning("token-broker: exited (code %s); restarting in %.1f s", exit_code, delay)
            await asyncio.sleep(delay)
            self.restarts += 1

    async def _run_once(self, first_attempt: asyncio.Event) -> int | None:
        """One broker process from launch to exit; returns its exit code."""
        rundir = self._require_rundir()
        rundir.remove_stale_socket()
        self._last_error_line = None
        process = await asyncio.create_subprocess_exec(
            *self.argv(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=minimal_environment(),
            cwd=str(rundir.path),
            limit=LINE_LIMIT,
            # Own session: a Ctrl-C in the server's terminal is the server's to handle, not the broker's.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._process = process
        self.pid = process.pid
        first_attempt.set()
        stderr_task = asyncio.create_task(self._drain_stderr(process))
        try:
            if await self._await_ready(process):
                self.start_failure = None
                if await self._run_before_serving(process):
                    self._ready.set()
                await self._drain_stdout(process)
                return await process.wait()
            exit_code = await process.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task
            # A refused start (a store others can read, a missing keychain) names its cause on its last line.
            self.start_failure = self._last_error_line or f"exited with code {exit_code} before it was ready"
            return exit_code
        finally:
            self._ready.clear()
            await self._terminate()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task

    async def _run_before_serving(self, process: asyncio.subprocess.Process) -> bool:
        """Runs ``before_serving`` until it succeeds (then never again); False when the broker exited or is
        being stopped first."""
        attempts = 0
        while self.before_serving is not None:
            if self._stopping or process.returncode is not None:
                return False
            self._before_serving_running = True
            try:
                await self.before_serving()
            except Exception as err:
                # Whatever failed, the broker must not serve yet; only our own reasons are shown to callers.
                attempts += 1
                if isinstance(err, NotServingYet):
                    self.held = str(err)
                else:
                    self.log.exception("token-broker: the work before serving failed")
                    self.held = "an unexpected error, see the Jupyter server log"
                self._before_serving_tried.set()
                delay = self.hold_backoff.delay(attempts)
                self.log.warning("token-broker: serving nothing yet: %s; trying again in %.0f s", self.held, delay)
                # Waits the delay, or less when the broker exits meanwhile.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(process.wait()), delay)
                continue
            finally:
                self._before_serving_running = False
            self.before_serving = None
            self.held = None
            self._before_serving_tried.set()
        return not self._stopping and process.returncode is None

    async def _await_ready(self, process: asyncio.subprocess.Process) -> bool:
        """Reads stdout until the ready line, within ``startup_timeout``; kills a broker that never gets ready."""
        stdout = process.stdout
        if stdout is None:
            return False

        async def read_until_ready() -> dict[str, Any] | None:
            while True:
                try:
                    line = await stdout.readline()
                except ValueError:
                    continue
                if not line:
                    return None
                message = parse_ready_line(line)
                if message is not None:
                    return message

        try:
            message = await asyncio.wait_for(read_until_ready(), self._startup_timeout)
        except asyncio.TimeoutError:
            self.log.error("token-broker: not ready after %.0f s; stopping it", self._startup_timeout)
            await self._terminate()
            return False
        if message is None:
            return False
        self.log.info(
            "token-broker: ready (version %s, pid %s) on %s",
            message.get("version"),
            message.get("pid"),
            message.get("socket"),
        )
        return True

    async def _drain_stdout(self, process: asyncio.subprocess.Process) -> None:
        stdout = process.stdout
        while stdout is not None:
            try:
                line = await stdout.readline()
            except ValueError:
                continue
            if not line:
                return
            self.log.debug("token-broker stdout: %s", line.decode(errors="replace").rstrip())

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        """Forwards the broker's log lines (JSON, never token material) into the Jupyter log at their level."""
        stderr = process.stderr
        while stderr is not None:
            try:
                line = await stderr.readline()
            except ValueError:
                continue
            if not line:
                return
            text = without_cli_prefix(line.decode(errors="replace").rstrip())
            if text:
                self._last_error_line = text
                self.log.log(log_level_of(text), "token-broker: %s", text)

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def log_level_of(line: str) -> int:
    """The logging level of one broker log line (``{"level": "warn", ...}``).

    A line that is not the broker's JSON is WARNING: the CLI writes plain text only when it cannot start (a bad
    config, an unusable store, a Node.js too old), and Node.js itself only for its own warnings.
    """
    try:
        level = json.loads(line).get("level")
    except (ValueError, AttributeError):
        return logging.WARNING
    return _LEVELS.get(level, logging.INFO) if isinstance(level, str) else logging.INFO
