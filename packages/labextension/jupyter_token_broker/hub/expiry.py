"""When a hub login's access token expires, and when to refresh it: small decisions, no I/O."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

#: The absolute expiry (unix seconds, float) stamped into the token response when it arrived.
EXPIRES_AT_KEY = "token_broker_expires_at"


def stamp_expiry(token_info: dict[str, Any], received_at: float, unknown_lifetime: int) -> None:
    """Writes the absolute expiry of a token response into it (``EXPIRES_AT_KEY``).

    From ``expires_in`` counted from when the answer arrived, less one second: IdPs count in whole seconds, so a
    token may expire up to a second earlier than ``expires_in`` says. When the IdP said no ``expires_in`` and the
    access token is no JWT with ``exp``, ``unknown_lifetime`` seconds. The hub's own clock is used throughout: a
    JWT's ``exp`` is on the IdP's clock, which may be skewed.
    """
    seconds = _as_seconds(token_info.get("expires_in"))
    if seconds is None and "exp" in jwt_claims(token_info.get("access_token")):
        return
    token_info[EXPIRES_AT_KEY] = received_at + (seconds - 1 if seconds is not None else unknown_lifetime)


def expires_at(auth_state: dict[str, Any]) -> float | None:
    """The access token's expiry: the stamp, else a JWT access token's ``exp``, else None (unknown)."""
    response = auth_state.get("token_response") or {}
    stamped = response.get(EXPIRES_AT_KEY)
    if isinstance(stamped, (int, float)) and response.get("access_token") == auth_state.get("access_token"):
        return float(stamped)
    exp = jwt_claims(auth_state.get("access_token")).get("exp")
    return float(exp) if isinstance(exp, (int, float)) else None


def lifetime(auth_state: dict[str, Any]) -> int | None:
    """The IdP's access-token lifetime in seconds (``expires_in`` of the last token response, or JWT exp-iat)."""
    response = auth_state.get("token_response") or {}
    seconds = _as_seconds(response.get("expires_in"))
    if seconds is not None:
        return seconds
    claims = jwt_claims(auth_state.get("access_token"))
    exp, iat = claims.get("exp"), claims.get("iat")
    if isinstance(exp, int) and isinstance(iat, int) and exp > iat:
        return exp - iat
    return None


def should_refresh(expiry: float | None, now: float, min_ttl: float) -> bool:
    """Whether a token expiring at ``expiry`` fails to have ``min_ttl`` seconds left at ``now`` (unknown: refresh)."""
    return expiry is None or expiry - now < min_ttl


def hub_margin(margin: int, token_lifetime: int | None) -> int:
    """The margin for the hub's own refreshes: ``margin``, at most half the token's lifetime."""
    if token_lifetime is None:
        return margin
    return min(margin, token_lifetime // 2)


def jwt_claims(token: Any) -> dict[str, Any]:
    """The payload of a JWT, unverified (only to read ``exp``/``iat`` of a token the hub got from the IdP itself)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _as_seconds(value: Any) -> int | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
