#!/usr/bin/env node
/**
 * The throughput baseline: a minimal express 5 app on a unix socket (same 0600 socket in a 0700
 * directory as the broker) answering every token request with a fixed JSON body, the same size as
 * the broker's answer.
 *
 *   node express-baseline.mjs SOCKET BODY_JSON
 */
import { chmodSync } from 'node:fs';

import express from 'express';

const [socket, body] = process.argv.slice(2);
const answer = JSON.parse(body);
const app = express();
app.post('/api/v1/providers/:id/token', (_req, res) => {
  res.json(answer);
});
const server = app.listen(socket, () => {
  chmodSync(socket, 0o600);
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, socket }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
