"""Debian's Chromium for hub tests, driven through chromium_driver.mjs (playwright-core from node_modules).

::

    with Chromium() as browser:
        browser.goto(f"{hub.url}hub/token-broker/")
        browser.click(role="button", name="Revoke tokens of alice")
        browser.fill("Reason", "leaked notebook")
        browser.screenshot(tmp_path / "dialog.png")

Locators are the ones a user sees: role and accessible name (exact), label, or text.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from hub_stack import REPO_DIR

DRIVER = Path(__file__).resolve().parent / "chromium_driver.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
PLAYWRIGHT_CORE = REPO_DIR / "node_modules" / "playwright-core"


class BrowserError(AssertionError):
    """A step the browser could not do (element not found in time, navigation failed)."""


class Chromium:
    """One browser context (own cookies) with one page."""

    def __init__(self, failure_screenshot: Path | None = None) -> None:
        #: Where the page is captured when a step fails (to see what the browser saw).
        self.failure_screenshot = failure_screenshot
        self.process = subprocess.Popen(
            ["node", str(DRIVER)],
            cwd=str(REPO_DIR),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise BrowserError(f"the Chromium driver exited ({self.process.poll()}) during {command}")
        answer = json.loads(line)
        if "error" in answer:
            if self.failure_screenshot is not None and command["op"] != "screenshot":
                self._send({"op": "screenshot", "path": str(self.failure_screenshot)})
            raise BrowserError(f"{command}: {answer['error']}")
        return answer

    def goto(self, url: str) -> int:
        """Opens ``url`` (following redirects); the HTTP status of the final page."""
        return self._send({"op": "goto", "url": url})["status"]

    @property
    def url(self) -> str:
        return self._send({"op": "url"})["url"]

    def _act(self, action: str, value: Any = None, **locator: Any) -> dict[str, Any]:
        return self._send({"op": "act", "locator": locator, "action": action, "value": value})

    def click(self, **locator: Any) -> None:
        self._act("click", **locator)

    def fill(self, label: str, value: str) -> None:
        self._act("fill", value, label=label)

    def check(self, label: str) -> None:
        self._act("check", label=label)

    def select(self, label: str, value: str) -> None:
        self._act("select", value, label=label)

    def text(self, **locator: Any) -> str:
        """The visible text of the element (waits for it)."""
        return self._act("text", **locator)["text"]

    def value(self, label: str) -> str:
        """The current value of a form field."""
        return self._act("value", label=label)["text"]

    def wait(self, state: str = "visible", **locator: Any) -> None:
        self._act("wait", state, **locator)

    def count(self, **locator: Any) -> int:
        return self._act("count", **locator)["count"]

    def page_errors(self) -> list[str]:
        """Uncaught errors of the page's scripts so far."""
        return self._send({"op": "errors"})["errors"]

    def answer(self, pattern: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """From now on, requests to URLs matching ``pattern`` (a glob) get this JSON answer instead of the hub's."""
        self._send(
            {
                "op": "route",
                "pattern": pattern,
                "status": status,
                "headers": {"Content-Type": "application/json", **(headers or {})},
                "body": json.dumps(body),
            }
        )

    def stop_answering(self, pattern: str) -> None:
        self._send({"op": "unroute", "pattern": pattern})

    def screenshot(self, path: Path) -> Path:
        self._send({"op": "screenshot", "path": str(path)})
        return path


def available() -> bool:
    """Whether Chromium and playwright-core are installed (``make system-deps``, ``npm ci``)."""
    return CHROMIUM.exists() and PLAYWRIGHT_CORE.exists()
