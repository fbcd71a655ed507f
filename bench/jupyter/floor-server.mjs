#!/usr/bin/env node
/**
 * The floor of the Jupyter case: the fastest process the server extension can forward to. Bare
 * node:http on a 0600 unix socket that reads the request body, parses it as JSON, and answers the
 * broker's token answer (a constant read once from BODY_FILE) with the broker's headers. It checks
 * no key, looks nothing up and records nothing, so a broker behind the same socket cannot answer
 * faster. Prints a ready line once listening, as the broker does.
 *
 *   node floor-server.mjs SOCKET BODY_FILE
 */
import { chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [socket, bodyFile] = process.argv.slice(2);
const body = readFileSync(bodyFile);
// The headers of the broker's token answer (routes/token.ts), so the extension relays the same.
const headers = {
  'Content-Type': 'application/json; charset=utf-8',
  'Content-Length': body.length,
  'Cache-Control': 'no-store',
  Pragma: 'no-cache'
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', chunk => chunks.push(chunk));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"invalid_request"}');
      return;
    }
    res.writeHead(200, headers).end(body);
  });
});
// As the broker (server.ts): the extension's client reuses a connection idle for at most 2 s.
server.keepAliveTimeout = 5000;

// 0600 from its first moment, as the broker makes its socket (socket.ts), then once more in case
// the platform ignores the umask for sockets.
const previousUmask = process.umask(0o177);
server.listen(socket, () => {
  process.umask(previousUmask);
  chmodSync(socket, 0o600);
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, socket }) + '\n');
});
process.on('SIGTERM', () => {
  // The Jupyter server's client may still hold kept-alive connections: close them too.
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
