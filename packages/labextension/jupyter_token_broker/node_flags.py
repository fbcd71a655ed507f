"""The Node.js flags the broker runs with, in one place: the supervisor puts them before the script
(``node, *BROKER_NODE_FLAGS, script, "serve", ...``) and the benchmark starts the broker with the same ones
(``bench/harness/broker.mjs`` reads this file). There are none today; what the broker's memory needed is set
inside the bundle instead, for the reason below.

The one V8 setting kept, ``--liftoff-only``, is applied by the bundle's first line
(``v8.setFlagsFromString``, ``packages/broker/scripts/bundle.mjs``): WebAssembly is compiled by V8's baseline
compiler only. The broker's one WebAssembly module is the HTTP parser (llhttp) of Node's ``fetch``, which Node 20
compiles as soon as anything touches ``Headers`` or ``Response`` (openid-client does on the first provider use);
V8 also compiles it with TurboFan and keeps that compiler's memory. Broker RSS after its first provider use, Node 20,
median of 7 starts, against a bare ``node:http`` process on a unix socket (45.2 MB): 66.7 MB (1.48x) without it,
58.0 MB (1.29x) with it set in the bundle, 58.6 MB (1.30x) with it on the command line. On the command line it also
changes the V8 flag hash that Node's built-in code cache is checked against, so every start compiles Node's own
modules from source: about 30 ms more CPU per start and 0.5-1 MB more RSS at idle. Node 20, 22 and 24 all take the
flag at run time (``v8.cachedDataVersionTag()`` changes as with the command-line flag); on Node 22 and 24 the RSS
after provider use hardly moves either way. The cache-hit token path parses HTTP with Node's native parser, not
WebAssembly, and does not change.

Tried and not kept (no effect on that figure beyond noise): ``--max-semi-space-size=1``, ``--optimize-for-size``,
``--v8-pool-size=1``, ``--single-threaded-gc``, ``--lazy-new-space-shrinking``, ``--no-wasm-tier-up``,
``--wasm-lazy-compilation``, ``--wasm-num-compilation-tasks=1``, ``MALLOC_ARENA_MAX=2`` in the environment; and
``--single-threaded`` (63.6 MB, but no concurrent GC or compilation on the hot path). ``docs/architecture.md`` has
the table and where the rest goes.
"""

from __future__ import annotations

BROKER_NODE_FLAGS: tuple[str, ...] = ()
"""Flags for ``node`` before the broker's script (none: see the module docstring); each must be accepted by Node
20.19+, 22 and 24, or no broker starts on that Node (``tests/test_node_flags.py``)."""
