/**
 * The unix socket the broker listens on: only in a 0700 directory of the broker's own user, created
 * 0600, removed on close.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** The socket path cannot be used; the message says why. */
export class SocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketError';
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Checks the socket's directory and clears a stale socket file left by a crashed broker.
 *
 * @param path - the socket path
 * @throws {@link SocketError} when the directory is not a 0700 directory of this user, or the path
 *   is held by a live broker or is not a socket
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  let info;
  try {
    info = await lstat(dir);
  } catch {
    throw new SocketError(`socket directory ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new SocketError(`${dir} is not a directory`);
  if (process.getuid !== undefined && info.uid !== process.getuid()) {
    throw new SocketError(`socket directory ${dir} is not owned by this user`);
  }
  if ((info.mode & 0o777) !== 0o700) {
    throw new SocketError(
      `socket directory ${dir} must be mode 0700 (it is ${(info.mode & 0o777).toString(8)})`
    );
  }
  const existing = await lstat(path).catch(() => undefined);
  if (existing === undefined) return;
  if (!existing.isSocket()) throw new SocketError(`${path} exists and is not a socket`);
  if (await isAlive(path)) throw new SocketError(`${path} is in use by a running process`);
  await unlink(path);
}

/**
 * Runs `listen` with a umask that makes the socket 0600 from its first moment, then sets the mode
 * again in case the platform ignores the umask for sockets.
 *
 * @param path - the socket path
 * @param listen - starts listening on `path`
 */
export async function listenPrivately(path: string, listen: () => Promise<void>): Promise<void> {
  const previous = process.umask(0o177);
  try {
    await listen();
  } finally {
    process.umask(previous);
  }
  await chmod(path, 0o600);
}

/**
 * Removes the socket file; no error when it is already gone.
 *
 * @param path - the socket path
 */
export async function removeSocket(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
