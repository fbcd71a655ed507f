/**
 * TCP ports for the demo and its tests: is a port free, and which port is free.
 *
 * Run as a script it prints free ports, one per line, for callers that cannot await (Playwright's config):
 *
 *   node packages/demo/lib/ports.mjs 3    # three distinct free ports on 127.0.0.1
 */

import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The only host the demo listens on. */
export const LOOPBACK = '127.0.0.1';

/**
 * Whether something already listens on `host:port`, found by trying to listen there.
 *
 * @param {number} port - the port.
 * @param {string} [host] - the address (default 127.0.0.1).
 * @returns {Promise<boolean>} true when the port is taken (`EADDRINUSE`, or `EACCES` for a privileged port).
 * @throws {Error} any other listen error (say, an address this machine does not have).
 * @example
 * if (await portInUse(9400)) console.error('port 9400 is in use');
 */
export function portInUse(port, host = LOOPBACK) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', err => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') {
        resolve(true);
      } else {
        reject(err);
      }
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/**
 * Asks the OS for ports nobody listens on (port 0), all held open together so that they are distinct, then
 * released. Another process could take one before the caller listens there, but the OS hands out ephemeral
 * ports in turn, so that does not happen in practice; never one of the demo's fixed ports (9400, 9401, 8888),
 * which lie below the ephemeral range.
 *
 * @param {number} [count] - how many ports (default 1).
 * @param {string} [host] - the address (default 127.0.0.1).
 * @returns {Promise<number[]>} `count` distinct free ports.
 * @example
 * const [idpPort, apiPort] = await freePorts(2);
 */
export async function freePorts(count = 1, host = LOOPBACK) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: 0, host, exclusive: true }, resolve);
      });
    }
    return servers.map(server => server.address().port);
  } finally {
    await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))));
  }
}

/**
 * One free port (see {@link freePorts}).
 *
 * @param {string} [host] - the address (default 127.0.0.1).
 * @returns {Promise<number>} the port.
 * @example
 * const port = await freePort();
 */
export async function freePort(host = LOOPBACK) {
  const [port] = await freePorts(1, host);
  return port;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const count = Number(process.argv[2] ?? '1');
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    process.stderr.write('usage: node ports.mjs [COUNT (1-64)]\n');
    process.exit(2);
  }
  process.stdout.write(`${(await freePorts(count)).join('\n')}\n`);
}
