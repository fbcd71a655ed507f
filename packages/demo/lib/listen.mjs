/**
 * Listening for the demo's servers: a taken port ends the process with one line saying so, not a stack trace.
 */

/**
 * Makes `server` listen on `host:port`, calls `onListening` once it does, and exits 1 with one line on stderr
 * when it cannot (a taken port above all).
 *
 * @param {import('node:net').Server} server - the server.
 * @param {object} where - where to listen and what to call it.
 * @param {number} where.port - the port.
 * @param {string} where.host - the address.
 * @param {string} where.name - what listens, e.g. `demo IdP`.
 * @param {string} where.hint - how to choose another port, e.g. `pass --port N`.
 * @param {() => void} onListening - called once listening.
 * @example
 * listenOrExit(server, { port: 9400, host: '127.0.0.1', name: 'demo IdP', hint: 'pass --port N' }, ready);
 */
export function listenOrExit(server, { port, host, name, hint }, onListening) {
  server.once('error', err => {
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${port} is in use: stop what uses it or ${hint}`
        : `cannot listen on ${host}:${port}: ${err.message}`;
    process.stderr.write(`${name}: ${why}\n`);
    process.exit(1);
  });
  server.listen(port, host, onListening);
}
