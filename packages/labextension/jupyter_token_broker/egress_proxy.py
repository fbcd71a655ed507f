"""The Jupyter route ``{base_url}token-broker/api/v1/egress/(.*)``: an owner's call to an allowlisted API, streamed
through the broker, which adds the bearer token; the caller never holds it.

The same checks as every broker route (``handlers.py``): Jupyter's authentication and XSRF check, the owner only
(an admin who is not the owner and a visitor get 403), nothing while the server is shared; then only the egress
header allowlist and the trusted ``X-Broker-*`` headers go to the broker. Bodies stream both ways with backpressure
(``egress_client.py``). With ``@stream_request_body`` tornado reads the body only after ``prepare()`` returns, and
calls the method (``post`` ...) only once the body is complete, so the checks happen in ``prepare()``, which starts
the transfer; the method waits for it to end.

Answers made here or by the broker carry ``X-Token-Broker-Error: <code>`` and ``{error, error_description}``; the
upstream's own answers come back as they are (minus hop-by-hop and origin-bound fields). A failure after the first
byte of an answer was sent closes the connection: the caller sees a cut-off transfer, never a hang or a spliced
error.
"""

from __future__ import annotations

import asyncio
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.httputil import HTTPHeaders

from .contract import EGRESS_ERROR_HEADER
from .egress_client import (
    EgressClient,
    EgressFailed,
    EgressTransfer,
    forwarded_request_headers,
    relayed_response_headers,
)
from .handlers import RETRY_AFTER_SECONDS, BrokerProxyHandler, has_dot_segment
from .identity import client_label, trusted_headers

ERROR_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "invalid_request",
    413: "payload_too_large",
}
"""The error code of a refusal tornado or Jupyter raised (``write_error``); any other status is ``server_error``."""

DROP_BYTES = 64 << 20
"""Most request body read and dropped after an answer given before it was in (a refusal, a 503); a larger one
closes the connection after the answer."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose body may come chunked (tornado frames it for the broker); any other forwards a body only with a
``Content-Length``."""


@web.stream_request_body
class EgressProxyHandler(BrokerProxyHandler):
    """``{base_url}token-broker/api/v1/egress/(.*)``: streams an owner's call through the broker's egress."""

    transfer: EgressTransfer | None = None
    task: asyncio.Task[None] | None = None

    def initialize(self, *, egress: EgressClient, **options: Any) -> None:  # type: ignore[override]
        super().initialize(**options)
        self.egress = egress
        self.answer_started = False
        self.pending_flush: Any = None
        self.body_complete = False
        self.closing = False
        self.held_answer: tuple[Any] | None = None
        self.dropped = 0

    @property
    def content_security_policy(self) -> str:
        # An upstream's HTML page opened in a tab must not run in Jupyter's origin.
        return f"{super().content_security_policy}; sandbox"

    def compute_etag(self) -> str | None:
        return None  # the upstream's validators are relayed; tornado must not turn an answer into its own 304

    def send_error_json(self, status: int, code: str, description: str, retry_after: int | None = None) -> None:
        """The broker's error shape, marked as made here, not by the upstream."""
        self.clear_header("Content-Type")
        self.set_header(EGRESS_ERROR_HEADER, code)
        super().send_error_json(status, code, description, retry_after)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's own refusals (no user 403, XSRF 403, a foreign origin 404) in the same marked shape: a caller
        tells them from the upstream's answers like every other answer made on this side."""
        self.closing = True  # tornado calls no method after it: the answer cannot wait for the body
        error = kwargs.get("exc_info", (None, None, None))[1]
        code = ERROR_CODES.get(status_code, "server_error")
        if status_code < 500 and isinstance(error, web.HTTPError) and error.log_message:
            description = error.log_message % error.args if error.args else error.log_message
        else:
            description = responses.get(status_code, "Error")
        self.send_error_json(status_code, code, description)

    async def prepare(self) -> None:  # type: ignore[override]
        # Jupyter's authentication (403 for an API call without a user), XSRF check and origin check.
        await super().prepare()
        method = self.request.method or "GET"
        path = self.broker_path()
        if self.caller_role(method, path) is None:  # owner only: a path under egress/ is no admin route
            return
        if has_dot_segment(path):
            self.send_error_json(400, "invalid_request", "Invalid path.")
            return
        framing = self.body_framing(method)
        if framing is None:
            return
        has_body, content_length = framing
        if self.share_check is not None:
            # Kernels run the owner's code and a visitor's alike: no calls with the owner's tokens while shared.
            refusal = await self.share_check.refusal()
            if refusal is not None:
                self.log.warning("token-broker: egress call refused: %s", refusal.code)
                self.send_error_json(refusal.status, refusal.code, refusal.description, refusal.retry_after)
                return
        headers = forwarded_request_headers(self.request.headers)
        headers.update(
            trusted_headers(
                key=self.supervisor.key,
                user=self.owner,
                client=client_label(self.request.headers.get("X-Token-Broker-Client")),
            )
        )
        query = f"?{self.request.query}" if self.request.query else ""
        try:
            self.transfer = self.egress.transfer(
                method, f"/api/v1/{path}{query}", headers, content_length=content_length, body=has_body
            )
        except ValueError:
            self.send_error_json(400, "invalid_request", "Invalid path or header.")
            return
        self.task = asyncio.ensure_future(self.run_transfer(self.transfer))

    def body_framing(self, method: str) -> tuple[bool, int | None] | None:
        """Whether a body follows and its announced length (None: chunked); answers and returns None when the
        request cannot be forwarded as framed, or its body is larger than ``egress_max_request_bytes``."""
        limit = self.egress.limits.max_request_bytes
        chunked = "chunked" in self.request.headers.get("Transfer-Encoding", "").lower()
        declared = self.request.headers.get("Content-Length")
        if chunked:
            if method not in BODY_METHODS:
                self.send_error_json(411, "invalid_request", f"A {method} body needs a Content-Length.")
                return None
            self.request.connection.set_max_body_size(limit)
            return True, None
        length = int(declared) if declared is not None and declared.isdigit() else 0
        if length > limit:
            self.send_error_json(413, "payload_too_large", f"Egress request bodies are limited to {limit} bytes.")
            return None
        if length:
            self.request.connection.set_max_body_size(limit)
        return length > 0, length if length or method in BODY_METHODS else None

    def data_received(self, chunk: bytes) -> Any:
        # Returning the queue's put holds tornado back from reading more of the body until the broker took some.
        if self.transfer is not None and not self.transfer.ended:
            return self.transfer.feed(chunk)
        self.drop(chunk)
        return None

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self.transfer is not None and not self.transfer.ended:
            self.log.info("token-broker: egress call ended by the caller")
            self.transfer.abort()

    async def run_transfer(self, transfer: EgressTransfer) -> None:
        """Holds the broker (started if stopped, no idle stop) for the whole transfer and relays its answer."""
        if transfer.ended:
            return  # the caller left before it started
        try:
            async with self.supervisor.using() as ready:
                if not ready:
                    transfer.abort()
                    self.send_not_ready()
                    return
                try:
                    await transfer.run(self.relay_head, self.relay_chunk)
                except EgressFailed as err:
                    self.transfer_failed(transfer, err)
                    return
            if not self._finished:
                self.finish()
        except Exception:
            # Never a hang: whatever broke, the caller gets an answer or a closed connection.
            self.log.exception("token-broker: egress call failed")
            self.close_or_answer(502, "upstream_unavailable", "The egress call failed; see the Jupyter server log.")

    def relay_head(self, status: int, reason: str | None, headers: HTTPHeaders) -> None:
        """The broker's status line and fields, set on this answer (sent with the first body chunk or at the end)."""
        self.set_status(status, reason)
        self.clear_header("Content-Type")
        for name, value in relayed_response_headers(headers):
            if name.lower() == "content-type":
                self.set_header(name, value)
            else:
                # Content-Security-Policy adds to Jupyter's (sandbox): a browser enforces every policy it gets.
                self.add_header(name, value)
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and status not in (204, 304):
            # The caller learns the size, and a cut-off answer is one it can tell from a complete one.
            self.set_header("Content-Length", length)

    def relay_chunk(self, chunk: bytes) -> Any:
        """Writes a chunk of the answer. While the caller has not yet taken the last flush, the chunk waits in the
        handler and the returned flush holds tornado back from reading more from the broker; else it goes out and
        the next chunk is read meanwhile. At most two chunks (``READ_CHUNK_BYTES`` each) are between broker and
        caller.

        tornado keeps one flush future per connection (a second one replaces the first, which then never
        resolves), so a flush is only started once the one before is done."""
        self.answer_started = True
        self.write(chunk)
        if self.pending_flush is not None and not self.pending_flush.done():
            return self.pending_flush
        self.pending_flush = self.flush()
        return None

    def transfer_failed(self, transfer: EgressTransfer, err: EgressFailed) -> None:
        """An error answer when nothing was sent yet, else a closed connection."""
        if self.request.connection is None or self._finished:
            return
        self.log.warning(
            "token-broker: egress %s cut off: %s (%d bytes sent, %d received)",
            transfer.method,
            err,
            transfer.bytes_sent,
            transfer.bytes_received,
        )
        if err.phase == "connect":
            self.close_or_answer(
                503, "upstream_unavailable", "The token broker is not running.", retry_after=RETRY_AFTER_SECONDS
            )
        elif err.phase == "silent":
            self.close_or_answer(504, "upstream_unavailable", "The token broker did not answer in time.")
        else:
            self.close_or_answer(502, "upstream_unavailable", "The token broker ended the call before answering.")

    def close_or_answer(self, status: int, code: str, description: str, retry_after: int | None = None) -> None:
        if self._finished:
            return
        if not self.answer_started and not self._headers_written:
            self.clear()
            self.send_error_json(status, code, description, retry_after)
            return
        # Part of the answer is out: only a closed connection tells the caller it is incomplete.
        self.closing = True
        self.request.connection.close()
        self.finish()

    async def wait_transfer(self) -> None:
        """The body is complete (tornado calls the method only then): tell the transfer, wait for its end, and send
        an answer that waited for the body."""
        self.body_complete = True
        if self.transfer is not None:
            self.transfer.end_body()
        if self.task is not None:
            await self.task
        if self.held_answer is not None:
            chunk, self.held_answer = self.held_answer[0], None
            JupyterHandler.finish(self, chunk)

    async def get(self, _path: str) -> None:
        await self.wait_transfer()

    async def head(self, _path: str) -> None:
        await self.wait_transfer()

    async def post(self, _path: str) -> None:
        await self.wait_transfer()

    async def put(self, _path: str) -> None:
        await self.wait_transfer()

    async def patch(self, _path: str) -> None:
        await self.wait_transfer()

    async def delete(self, _path: str) -> None:
        await self.wait_transfer()

    async def options(self, _path: str) -> None:  # type: ignore[override]
        # Authenticated, unlike APIHandler's CORS answer: forwarded like any other method.
        await self.wait_transfer()

    def finish(self, chunk: Any = None, *, set_content_type: str | None = None) -> Any:
        # Not APIHandler.finish, which calls every answer application/json: the upstream's type (or none) stays.
        self.update_api_activity()
        if set_content_type is not None:
            self.set_header("Content-Type", set_content_type)
        if not self.body_complete:
            if self.may_hold_answer():
                # An answer (a refusal, 503) given while the body still arrives waits until it is in, dropped: a
                # client that sends its whole body before it reads (requests, httpx) gets it instead of a reset.
                self.held_answer = (chunk,)
                if self.transfer is not None:
                    self.transfer.abort()
                return None
            # tornado closes the connection after an answer given before the body was read (also an empty one):
            # say so, or a client that keeps connections (requests.Session) meets a reset on its next call.
            self.set_header("Connection", "close")
        return JupyterHandler.finish(self, chunk)

    def may_hold_answer(self) -> bool:
        """Whether an answer may wait for the rest of the body: not when the method will never be called (an error
        tornado or Jupyter raised, a connection being closed) nor for more than :data:`DROP_BYTES` of body."""
        if self.closing or self.held_answer is not None or self.answer_started:
            return False
        declared = self.request.headers.get("Content-Length", "")
        return not (declared.isdigit() and int(declared) > DROP_BYTES)

    def drop(self, chunk: bytes) -> None:
        """A body chunk nobody forwards; past :data:`DROP_BYTES` a held answer goes out and the connection closes."""
        self.dropped += len(chunk)
        if self.held_answer is not None and self.dropped > DROP_BYTES:
            chunk_held, self.held_answer = self.held_answer[0], None
            self.closing = True
            self.set_header("Connection", "close")
            JupyterHandler.finish(self, chunk_held)
