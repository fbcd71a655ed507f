#!/usr/bin/env node
/**
 * The node floor of the egress case: what the broker's egress does to bytes, and nothing else. Bare
 * node:http on a 0600 unix socket that takes the broker's egress path
 * (`/api/v1/egress/{provider}/{scheme}/{authority}/{path}`), calls `http://{authority}/{path}` with
 * node:http and pipes the answer back (`pipeline`, backpressure both ways), minus hop-by-hop fields.
 * No key, no allowlist, no token, no audit. The extension's real egress route talks to it as it
 * talks to the broker (`tb_bench_egress.py`), so broker − this floor is the broker's own work.
 * Prints a ready line once listening.
 *
 *   node egress-pipe-server.mjs SOCKET
 */
import { chmodSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { pipeline } from 'node:stream/promises';

const [socket] = process.argv.slice(2);
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
]);
const ROUTE = /^\/api\/v1\/egress\/[^/]+\/http\/([^/]+)(\/.*)$/;

const server = createServer((req, res) => {
  const match = ROUTE.exec(req.url ?? '');
  if (!match) {
    res.writeHead(404).end();
    return;
  }
  const [, authority, path] = match;
  const upstream = request(`http://${authority}${path}`, { method: req.method }, answer => {
    const headers = Object.fromEntries(
      Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name))
    );
    res.writeHead(answer.statusCode ?? 502, headers);
    pipeline(answer, res).catch(() => res.destroy());
  });
  upstream.on('error', () => res.destroy());
  pipeline(req, upstream).catch(() => res.destroy());
});
server.keepAliveTimeout = 5000;

const previousUmask = process.umask(0o177);
server.listen(socket, () => {
  process.umask(previousUmask);
  chmodSync(socket, 0o600);
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, socket }) + '\n');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
