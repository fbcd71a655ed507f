/**
 * Running the app: listening on a private unix socket or on a loopback port, and closing gracefully.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { STREAM_HIGH_WATER_MARK } from './egress/forwarder.js';
import { listenPrivately, prepareSocketPath, removeSocket } from './socket.js';

/** Where to listen. */
export type ListenTarget = { socket: string } | { host: string; port: number };

/** A listening broker. */
export interface RunningServer {
  readonly server: Server;
  /** The ready line's location fields: `{socket}` or `{port}`. */
  readonly address: { socket: string } | { host: string; port: number };
  /** Stops accepting, ends idle connections, removes the socket. */
  close(): Promise<void>;
}

/**
 * Starts listening.
 *
 * @param app - the broker's API (`createApp`)
 * @param target - socket path or host and port
 * @returns the running server
 * @throws {@link SocketError} when the socket path is not safe to use
 */
export async function listen(app: RequestListener, target: ListenTarget): Promise<RunningServer> {
  // Egress bodies stream through these sockets: buffers of one socket read or more (see there).
  const server = createServer({ highWaterMark: STREAM_HIGH_WATER_MARK }, app);
  server.keepAliveTimeout = 5000;
  // Node's default cuts any request not received whole within 5 minutes (408): an egress upload of
  // gigabytes may take longer. Only the server extension reaches the private socket; JSON bodies are
  // capped at 16 KiB and an egress body stalling for `egress_idle_timeout_ms` is ended by its route.
  server.requestTimeout = 0;
  const start = (where: string | { host: string; port: number }): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (typeof where === 'string') server.listen(where, done);
      else server.listen(where.port, where.host, done);
    });
  let address: RunningServer['address'];
  if ('socket' in target) {
    await prepareSocketPath(target.socket);
    await listenPrivately(target.socket, () => start(target.socket));
    address = { socket: target.socket };
  } else {
    await start(target);
    address = { host: target.host, port: (server.address() as AddressInfo).port };
  }
  return {
    server,
    address,
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      if ('socket' in target) await removeSocket(target.socket);
    }
  };
}
