"""Runs code in a real kernel that the Jupyter server starts, over the server's kernel websocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_process import JupyterServer


def _message(session: str, code: str, msg_type: str = "execute_request") -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "test",
            "version": "5.3",
            "date": datetime.now(timezone.utc).isoformat(),
        },
        "parent_header": {},
        "metadata": {},
        "content": {}
        if msg_type != "execute_request"
        else {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def _wait_until_ready(connection, session: str, timeout: float) -> None:
    """Asks ``kernel_info`` until both its shell reply and an iopub message for it arrive.

    A kernel that is still starting, or whose iopub subscription is not yet joined (ZeroMQ's slow joiner), drops
    what it is sent or publishes output nobody receives: a test that executes at once then waits for output that
    never comes (seen in CI). Output on iopub for our own request proves the whole path is up.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        probe = _message(session, "", "kernel_info_request")
        await connection.write_message(json.dumps(probe))
        shell = iopub = False
        resend = loop.time() + 2
        while not (shell and iopub) and loop.time() < resend:
            try:
                raw = await asyncio.wait_for(connection.read_message(), resend - loop.time())
            except asyncio.TimeoutError:
                break
            if raw is None:
                raise RuntimeError("kernel websocket closed")
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != probe["header"]["msg_id"]:
                continue
            shell = shell or reply.get("channel") == "shell"
            iopub = iopub or reply.get("channel") == "iopub"
        if shell and iopub:
            return
    raise TimeoutError(f"kernel not ready after {timeout} s")


async def _execute(server: JupyterServer, kernel_id: str, code: str, timeout: float) -> str:
    url = server.url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
    request = HTTPRequest(url, headers={"Authorization": f"token {server.token}"})
    connection = await websocket_connect(request)
    try:
        session = uuid.uuid4().hex
        await _wait_until_ready(connection, session, timeout)
        message = _message(session, code)
        msg_id = message["header"]["msg_id"]
        await connection.write_message(json.dumps(message))
        output: list[str] = []
        # Done once the shell's execute_reply and iopub's idle status are both in. They travel on different
        # channels, so either may come first (idle first was seen: waiting for a status after the reply then hung).
        replied = idle = False
        while not (replied and idle):
            raw = await asyncio.wait_for(connection.read_message(), timeout)
            if raw is None:
                raise RuntimeError("kernel websocket closed")
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = reply.get("msg_type") or reply["header"]["msg_type"]
            if kind == "stream":
                output.append(reply["content"]["text"])
            elif kind == "error":
                output.append(f"{reply['content']['ename']}: {reply['content']['evalue']}\n")
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and reply["content"]["execution_state"] == "idle":
                idle = True
        return "".join(output)
    finally:
        connection.close()


def run_in_kernel(server: JupyterServer, code: str, timeout: float = 60) -> str:
    """Starts a kernel through the server's REST API, runs ``code``, returns what it printed, shuts it down."""
    with server.token_client() as client:
        kernel = client.post(f"{server.url}api/kernels", json={"name": "python3"})
        assert kernel.status_code == 201, kernel.text
        kernel_id = kernel.json()["id"]
        try:
            return asyncio.run(_execute(server, kernel_id, code, timeout))
        finally:
            client.delete(f"{server.url}api/kernels/{kernel_id}")
