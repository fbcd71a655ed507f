"""The broker's own options as ``c.TokenBroker`` traits: one table, one line per option.

Each option goes into the broker's config file as it is set; the broker's ``check-config`` checks it at server start
and a wrong value stops the broker with its message naming the option (``configcheck.py``). Left unset (None), the
option is not written and the broker's default applies. ``token-broker options`` lists the broker's options; the
pytest ``test_broker_options.py`` fails when one of them is missing here or its help says another range or default.
"""

from __future__ import annotations

import json
from typing import Any

from traitlets import TraitType
from traitlets.config import Configurable

BROKER_OPTIONS: dict[str, tuple[str, str]] = {
    "refresh_margin_seconds": (
        "integer",
        "Refresh an access token when it has fewer than this many seconds left, at most half its lifetime (0 to 3600;"
        " default 30).",
    ),
    "default_min_ttl": (
        "integer",
        "Seconds a handed-out token must still be valid for when the caller names no min_ttl, at most half its"
        " lifetime (0 to 86400; default 30).",
    ),
    "login_state_ttl_seconds": (
        "integer",
        "Seconds a started sign-in may take before its login state expires (10 to 3600; default 600).",
    ),
    "upstream_timeout_ms": (
        "integer",
        "Deadline of every call to an identity provider, in milliseconds (100 to 120000; default 10000).",
    ),
    "consent_session_seconds": (
        "integer",
        'Seconds a plugin consent given "for this session" (allow) lasts (60 to 604800; default 28800).',
    ),
    "clock_tolerance_seconds": (
        "integer",
        "Seconds of clock difference tolerated with identity providers when checking JWT times "
        "(0 to 3600; default 300).",
    ),
    "egress_timeout_ms": (
        "integer",
        "Deadline of an egress call's connection and the upstream's answer head, in milliseconds"
        " (100 to 600000; default 30000).",
    ),
    "egress_idle_timeout_ms": (
        "integer",
        "An egress call with no byte either way for this many milliseconds is ended (100 to 3600000; default 60000).",
    ),
    "egress_max_request_bytes": (
        "integer",
        "The largest egress request body in bytes; a larger one is refused with 413"
        " (0 to 1099511627776; default 4294967296).",
    ),
    "egress_max_response_bytes": (
        "integer",
        "The largest egress response body in bytes; a larger one is cut off and logged"
        " (0 to 1099511627776; default 4294967296).",
    ),
}
"""Each broker option that ``c.TokenBroker`` passes on as it is: its JSON type and its help text. ``providers``,
``store`` and ``audit`` are traits of their own (the server extension fills in paths)."""


class BrokerValue(TraitType):
    """A value for the broker's config file, checked by the broker itself (type and range, naming the option).

    On the command line (``--TokenBroker.upstream_timeout_ms=20000``) the text is read as JSON, so a number is a
    number; anything that is not JSON stays text, for the broker to refuse.
    """

    default_value = None
    allow_none = True

    def __init__(self, json_type: str, help: str) -> None:
        super().__init__(default_value=None, allow_none=True, help=help)
        self.info_text = f"{'an' if json_type[0] in 'aeiou' else 'a'} {json_type}, or None for the broker's default"

    def validate(self, obj: Any, value: Any) -> Any:
        return value

    def from_string(self, s: str) -> Any:
        if s == "None":
            return None
        try:
            return json.loads(s)
        except ValueError:
            return s


BrokerOptions = type(
    "BrokerOptions",
    (Configurable,),
    {
        "__doc__": "The traits of :data:`BROKER_OPTIONS`, made from the table (``TokenBroker`` inherits them).",
        "__module__": __name__,
        **{name: BrokerValue(json_type, help).tag(config=True) for name, (json_type, help) in BROKER_OPTIONS.items()},
    },
)


def broker_option_values(config: Configurable) -> dict[str, Any]:
    """The options of :data:`BROKER_OPTIONS` that ``config`` sets (not None), for the broker's config file."""
    values = {name: getattr(config, name) for name in BROKER_OPTIONS}
    return {name: value for name, value in values.items() if value is not None}
