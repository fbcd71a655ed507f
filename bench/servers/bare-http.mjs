#!/usr/bin/env node
/**
 * The memory and start-up baseline: bare node:http on a unix socket that prints a ready line, as the
 * broker does.
 *
 *   node bare-http.mjs SOCKET
 */
import { createServer } from 'node:http';

const socket = process.argv[2];
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
});
server.listen(socket, () => {
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, socket }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
