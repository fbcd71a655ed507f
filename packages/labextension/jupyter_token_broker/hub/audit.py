"""The hub-side audit trail of token-broker administration: who did what to whom, with which outcome.

One JSON line per event in a file created with mode 0600 (``TokenBrokerHub.audit_path``), plus an in-memory ring
that ``GET admin/audit`` reads (refilled from the end of the file at hub start). Events never hold token material:
only names, provider ids, outcomes, stable error codes and the admin's reason.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: The actions an event may name.
ACTIONS = ("list", "revoke", "order_applied", "idp_retry")
#: The fields an event may carry (anything else is dropped before it is written).
FIELDS = ("time", "actor", "user", "action", "provider", "outcome", "code", "reason", "server", "steps")


def now_iso() -> str:
    """The current time as an ISO 8601 string in UTC, to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HubAudit:
    """Appends audit events to a 0600 JSON-lines file and keeps the newest ones in memory."""

    def __init__(self, path: str, ring_size: int, log: logging.Logger | None = None) -> None:
        self.path = Path(path) if path else None
        self.log = log or logging.getLogger("JupyterHub")
        self._ring: deque[dict[str, Any]] = deque(maxlen=max(1, ring_size))
        if self.path is not None:
            self._reload()

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            with self.path.open("rb") as f:
                lines = deque(f, maxlen=self._ring.maxlen)
        except FileNotFoundError:
            return
        except OSError as err:
            self.log.warning("token-broker: the audit trail %s could not be read (%s)", self.path, type(err).__name__)
            return
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self._ring.append(event)

    def record(self, action: str, *, actor: str | None, user: str | None, **fields: Any) -> dict[str, Any]:
        """Records one event (``action`` one of ACTIONS); returns it. A file that can't be written is logged, not
        raised: the action already happened, and the ring still has it."""
        event: dict[str, Any] = {
            "time": now_iso(),
            "actor": actor,
            "user": user,
            "action": action,
            "provider": fields.pop("provider", None),
            "outcome": fields.pop("outcome", None),
        }
        # The optional fields only when set.
        event.update({k: v for k, v in fields.items() if k in FIELDS and v is not None})
        self._ring.append(event)
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write(json.dumps(event, separators=(",", ":")) + "\n")
            except OSError as err:
                self.log.error(
                    "token-broker: the audit trail %s could not be written (%s)", self.path, type(err).__name__
                )
        return event

    def events(self, user: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest events first, at most ``limit``, only those about ``user`` when given."""
        found: list[dict[str, Any]] = []
        for event in reversed(self._ring):
            if user is None or event.get("user") == user:
                found.append(event)
                if len(found) >= limit:
                    break
        return found
