"""What the proxy does with a request the broker client will not put on the wire, through a real Jupyter server."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from jupyter_process import API, JupyterServer


def raw_request(server: JupyterServer, request_line: bytes) -> tuple[int, dict]:
    """Sends one request with a request line as given (bytes a client library would percent-encode)."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        conn.sendall(
            request_line + b"\r\nHost: " + url.netloc.encode() + b"\r\n"
            b"Authorization: token " + server.token.encode() + b"\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def test_raw_non_ascii_path_is_a_clear_400_not_a_server_error(server: JupyterServer) -> None:
    status, body = raw_request(server, b"GET /" + API.encode() + b"providers/d\xc3\xa9mo HTTP/1.1")
    assert status == 400
    assert body["error"] == "invalid_request"


def test_percent_encoded_path_still_reaches_the_broker(server: JupyterServer) -> None:
    status, body = raw_request(server, b"GET /" + API.encode() + b"providers/d%C3%A9mo/token HTTP/1.1")
    assert status != 400
    assert body["error"] != "invalid_request"
