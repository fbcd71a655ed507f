#!/usr/bin/env node
/**
 * The API behind the egress case: bare node:http on 127.0.0.1 in its own process (its CPU is not the
 * client's nor the benchmark's). `GET /data/big` answers BYTES bytes (one 1 MiB buffer written again
 * and again, waiting for `drain`: the server holds no more than that); `GET /data/small` a small JSON
 * body saying whether the request came with a bearer token (the broker adds one, a direct call has
 * none) without ever echoing it. Prints a ready line with its port.
 *
 *   node egress-upstream.mjs BYTES
 */
import { createServer } from 'node:http';

const size = Number(process.argv[2]);
const block = Buffer.alloc(1 << 20, 'x');

/** Writes `size` bytes of `block`, waiting for the socket to drain whenever it is full. */
function sendBig(res) {
  let left = size;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
  const pump = () => {
    while (left > 0) {
      const part = left >= block.length ? block : block.subarray(0, left);
      left -= part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const server = createServer((req, res) => {
  req.resume();
  const bearer = /^Bearer \S+$/.test(req.headers.authorization ?? '');
  if (req.method === 'GET' && req.url === '/data/big') return sendBig(res);
  if (req.method === 'GET' && req.url === '/data/small') {
    const body = JSON.stringify({ ok: true, bearer, items: ['a', 'b', 'c'] });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    return res.end(body);
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
});
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    JSON.stringify({ ready: true, pid: process.pid, port: server.address().port }) + '\n'
  );
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
