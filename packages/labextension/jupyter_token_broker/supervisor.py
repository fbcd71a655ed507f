"""Launches the broker process on first use, waits for its ready line, restarts it with backoff when it dies, stops
it when it has been idle and nothing would be lost, stops it with the server.

Every forwarded request passes :meth:`BrokerSupervisor.using`: it starts a stopped broker and waits for it, and it is
the gate an idle stop closes, so no request can reach a broker that is being stopped (``docs/architecture.md``,
"Start on first use, leave when idle").

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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import NODE_MISSING
from .configcheck import PROBE_SECONDS, check_broker_config, without_cli_prefix
from .idle import IdleExit, IdleQueries, RestingList, store_fingerprint
from .node_flags import BROKER_NODE_FLAGS
from .rundir import RunDir
from .upstream import BrokerUnavailable

ENV_ALLOWLIST = ("PATH", "HOME", "LANG")
"""The only variables the broker inherits."""

STOP_GRACE_SECONDS = 5.0
"""How long a broker may take to close after SIGTERM before it is killed."""

LINE_LIMIT = 1 << 20
"""Longest stdout/stderr line read from the broker."""

CONFIG_FIX = "fix c.TokenBroker in the Jupyter server's configuration, then restart the server"
"""What an admin does about a refused config; said with the reason in the log and in every 503 answer."""

PREPARING_WAIT_SECONDS = 10.0
"""How long a request waits, beyond ``startup_timeout``, for a started broker's first attempt at the hub's revocation
orders before it is answered 503."""

IDLE_RECHECK_SECONDS = 0.1
"""Shortest pause between two looks at whether the broker is idle."""

IDLE_QUESTION_SECONDS = 5.0
"""Deadline of the broker's answer to "may you stop now?" (no answer: it keeps running)."""

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
    """Runs one broker for the Jupyter server: from the first request that needs it (:meth:`using`) until the
    server stops, or until it has been idle ``idle_exit_seconds`` and says stopping loses nothing.

    ``ready`` tells whether requests can be forwarded; ``socket`` and ``key`` are what the proxy needs (the same for
    every launch).

    ``before_serving`` (set before :meth:`start`) runs once a launched broker is ready and before ``ready`` turns
    true; while it fails it is retried with backoff and the broker serves nothing (``held`` says why). Once it has
    succeeded it is not run again until the broker is stopped for idleness: a broker restarted after a crash serves
    at once, one started again after an idle stop applies what the hub ordered meanwhile.
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
        idle_exit_seconds: float = 0.0,
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
        self.held: str | None = None
        """Why a running broker serves nothing yet (``before_serving`` failed; one line, nothing secret)."""
        self.hold_backoff = Backoff(base=1.0, cap=15.0)
        """Delays between attempts of ``before_serving``."""
        self._before_serving_due = True
        self._checked: asyncio.Task[bool] | None = None
        self.idle = IdleExit(idle_exit_seconds)
        """When the broker was last used and whether it may be stopped for idleness (``idle_exit_seconds`` 0: never)."""
        self.idle_queries: IdleQueries | None = None
        """Asks the running broker whether stopping it now would lose anything (set by the extension)."""
        self.resting: RestingList | None = None
        """The provider list of a broker stopped for idleness, answered in its place while it is stopped."""
        self._gate = asyncio.Event()
        self._gate.set()
        self._settled = asyncio.Event()
        self._idle_task: asyncio.Task[None] | None = None
        self._idle_stopping = False
        self._idle_kept: str | None = None
        self.idle_stops = 0
        """How many times the broker was stopped for idleness."""

    @property
    def ready(self) -> bool:
        """True while a broker is running and has said it listens."""
        return self._ready.is_set()

    @property
    def running(self) -> bool:
        """True from a start until the broker is stopped for idleness or with the server (also while it starts
        or restarts after a crash)."""
        return self._task is not None

    @property
    def socket(self) -> str:
        """The broker's unix socket path."""
        return str(self._require_rundir().socket)

    @property
    def key(self) -> str:
        """The shared key the broker requires in ``X-Broker-Key``; never log it."""
        return self._key

    def argv(self) -> list[str]:
        """The broker's command line: the node flags (`node_flags.py`) and paths only."""
        rundir = self._require_rundir()
        return [
            self._node,
            *BROKER_NODE_FLAGS,
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

    def check(self) -> None:
        """Runs the broker's config check (``check-config``, a short process) in the background, once: a mistake is
        logged when the server starts, not at the first request."""
        if self._checked is None and self.config_error is None:
            self.prepare()
            self._checked = asyncio.create_task(self._config_accepted())

    async def start(self) -> None:
        """Starts supervising (``prepare()`` and the config check first if needed); returns once the first launch
        was attempted (or the config check is under way). Does nothing while supervising or after ``stop()``."""
        if self._task is not None or self.config_error is not None or self._stopping:
            return
        self.check()
        self.resting = None
        self.idle.touch()  # a start counts as use: the broker gets a whole idle period
        self._settled.clear()  # the outcome of an earlier launch says nothing about this one
        first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._supervise(first_attempt))
        if self.idle.enabled and self._idle_task is None:
            self._idle_task = asyncio.create_task(self._watch_idle())
        await first_attempt.wait()

    @contextlib.asynccontextmanager
    async def using(self, *, use: bool = True) -> AsyncIterator[bool]:
        """Holds the broker for one request: starts it when it is not running, waits for it (at most
        ``startup_timeout`` plus :data:`PREPARING_WAIT_SECONDS`), and keeps an idle stop out until the request ends.

        :param use: False for a request that must not keep the broker running (the provider list the status bar
            reads every minute); it is still never stopped under it.
        :returns: (yields) whether the broker is ready to forward to; when not, ``config_error``, ``start_failure``
            or ``held`` says why, or it is still starting.
        """
        while not self._gate.is_set():  # an idle stop under way finishes first
            await self._gate.wait()
        self.idle.begin(use)
        try:
            if not self.ready:
                await self.start()
                await self.wait_settled(self._startup_timeout + PREPARING_WAIT_SECONDS)
            yield self.ready
        finally:
            self.idle.end(use)

    async def resting_list(self) -> bytes | None:
        """The provider list to answer while the broker is stopped for idleness (:class:`~.idle.RestingList`), or
        None: it runs, or the store may have changed since it stopped."""
        while not self._gate.is_set():
            await self._gate.wait()
        if self._task is not None or self.resting is None:
            return None
        return self.resting.current()

    async def wait_settled(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds until the broker is ready or its launch came to nothing (a refused config,
        a failed start, revocation orders not applied yet); whether it is ready then."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)
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
        for task in (self._idle_task, self._checked):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._terminate()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._settled.set()
        self._gate.set()
        if self._rundir is not None:
            self._rundir.remove()

    def refuse(self, reason: str) -> None:
        """Never launches the broker: its config has a mistake that no retry can fix. Logs it once."""
        self.config_error = reason
        self._settled.set()
        self.log.error("token-broker: not started: %s (%s)", reason, CONFIG_FIX)

    async def _config_accepted(self) -> bool:
        """Runs the broker's check-config once, before the first launch; False when it refused the config."""
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
        # The check may wait for a slow issuer: start() returns meanwhile, requests wait for the outcome.
        first_attempt.set()
        if self._checked is None or not await asyncio.shield(self._checked):
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
                self._settled.set()
                exit_code = None
            finally:
                first_attempt.set()
            if self._stopping or self._idle_stopping:
                return
            if self.start_failure is not None and self.start_failure.startswith("config: "):
                self.refuse(self.start_failure)  # the broker refused its config itself: retrying changes nothing
                return
            crashes = 1 if self._backoff.is_stable(time.monotonic() - started) else crashes + 1
            delay = self._backoff.delay(crashes)
            self.log.warning("token-broker: exited (code %s); restarting in %.1f s", exit_code, delay)
            await asyncio.sleep(delay)
            self.restarts += 1

    async def _watch_idle(self) -> None:
        """Stops the broker once it has been idle for ``idle_exit_seconds`` and says nothing would be lost."""
        try:
            while not self._stopping:
                await asyncio.sleep(max(self.idle.due_in(), IDLE_RECHECK_SECONDS))
                if not self.ready:
                    self.idle.touch()  # restarting after a crash, or held: not a broker to stop now
                elif self.idle.due_in() <= 0 and await self._stop_if_idle():
                    return
        finally:
            self._idle_task = None

    async def _stop_if_idle(self) -> bool:
        """Closes the gate, asks the broker, and stops it when it may; whether it was stopped."""
        self._gate.clear()
        try:
            if self.idle.in_flight or self.idle_queries is None or not self.ready:
                return False
            try:
                answer = await asyncio.wait_for(self.idle_queries.answer(), IDLE_QUESTION_SECONDS)
            except (BrokerUnavailable, asyncio.TimeoutError) as err:
                self.log.debug("token-broker: no answer to the idle question (%s); it keeps running", err)
                self.idle.touch()
                return False
            if not answer.can_exit:
                if answer.description != self._idle_kept:
                    self.log.info(
                        "token-broker: unused for %.0f s but kept running: %s", self.idle.seconds, answer.description
                    )
                    self._idle_kept = answer.description
                self.idle.touch()  # asks again after another idle period
                return False
            listing = await self.idle_queries.provider_list()
            self._idle_stopping = True
            self._ready.clear()
            await self._terminate()
            if self._task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
            self._before_serving_due = True  # orders an admin left meanwhile are applied at the next start
            fingerprint = store_fingerprint(self._config.get("store", {}))
            self.resting = (
                RestingList(listing, fingerprint, fingerprint()) if listing is not None and fingerprint else None
            )
            self._idle_kept = None
            self.idle_stops += 1
            self.log.info(
                "token-broker: stopped after %.0f s unused (%s); it starts again at the next request",
                self.idle.seconds,
                answer.description,
            )
            return True
        finally:
            self._idle_stopping = False
            self._gate.set()

    async def _run_once(self, first_attempt: asyncio.Event) -> int | None:
        """One broker process from launch to exit; returns its exit code."""
        rundir = self._require_rundir()
        rundir.remove_stale_socket()
        self._last_error_line = None
        self._settled.clear()
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
                    self._settled.set()
                await self._drain_stdout(process)
                return await process.wait()
            exit_code = await process.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task
            # A refused start (a store others can read, a missing keychain) names its cause on its last line.
            self.start_failure = self._last_error_line or f"exited with code {exit_code} before it was ready"
            self._settled.set()
            return exit_code
        finally:
            self._ready.clear()
            await self._terminate()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task

    async def _run_before_serving(self, process: asyncio.subprocess.Process) -> bool:
        """Runs ``before_serving`` until it succeeds (then not again until the broker is stopped for idleness);
        False when the broker exited or is being stopped first."""
        attempts = 0
        while self.before_serving is not None and self._before_serving_due:
            if self._stopping or process.returncode is not None:
                return False
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
                self._settled.set()
                delay = self.hold_backoff.delay(attempts)
                self.log.warning("token-broker: serving nothing yet: %s; trying again in %.0f s", self.held, delay)
                # Waits the delay, or less when the broker exits meanwhile.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(process.wait()), delay)
                continue
            self._before_serving_due = False
            self.held = None
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
