"""The Node.js flags the broker runs with, in one place: the supervisor puts them before the script
(``node, *BROKER_NODE_FLAGS, script, "serve", ...``) and the benchmark starts the broker with the same ones
(``bench/harness/broker.mjs`` reads this file).

``--liftoff-only``: WebAssembly is compiled by V8's baseline compiler (Liftoff) only, never by TurboFan. The only
WebAssembly in the broker is the HTTP/1.1 parser (llhttp) of Node's ``fetch`` (undici), which carries the broker's
calls to identity providers: discovery, JWKS, token and revocation requests, a few per sign-in and refresh. Left to
itself, V8 also compiles that parser with TurboFan when it is first used, and keeps the compiler's working memory
and code: on Node 20 a broker's resident memory after its first provider use drops from 66.6 MB to 58.2 MB with the
flag (median of 5 starts; a bare ``node:http`` process on a unix socket: 45.2 MB; ratio 1.47 to 1.29). The cache-hit
token path parses HTTP with Node's native parser, not WebAssembly, and does not change (``bench/cases/throughput.mjs``).
On Node 22 and 24 the figure hardly moves (their fetch costs less on first use) and the flag is accepted.

What was tried and not kept (no effect beyond noise on the same figure): ``--max-semi-space-size=1``,
``--optimize-for-size``, ``--v8-pool-size=1``, ``--single-threaded-gc``, ``--lazy-new-space-shrinking``,
``--no-wasm-tier-up``, and ``MALLOC_ARENA_MAX=2`` in the environment. ``v8.setFlagsFromString("--liftoff-only")``
at the top of the bundle gives the same figure on Node 20, but Node documents flags changed after start as
unsupported, so the flag is given on the command line. ``docs/architecture.md`` has the table.
"""

from __future__ import annotations

BROKER_NODE_FLAGS: tuple[str, ...] = ("--liftoff-only",)
"""Flags for ``node`` before the broker's script; accepted by Node 20.19+, 22 and 24."""
