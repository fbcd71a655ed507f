/**
 * Files only the broker's user may read: checks of owner and mode, a crash-safe replace (temp file
 * in the same directory, fsync, rename, fsync of the directory), and exclusive creation.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A file or directory that must not be used as it is; the message says why and what to do. */
export class UnsafeFile extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeFile';
  }
}

const POSIX = process.platform !== 'win32';

/**
 * Checks that an existing path is a regular file owned by this user that no one else may read
 * or write.
 *
 * @param path - the file
 * @param what - its role, for the message
 * @returns false when it does not exist
 * @throws {@link UnsafeFile}
 */
export async function checkPrivateFile(path: string, what: string): Promise<boolean> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new UnsafeFile(`${what} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!info.isFile()) throw new UnsafeFile(`${what} ${path} is not a regular file`);
  if (POSIX && info.uid !== process.getuid?.()) {
    throw new UnsafeFile(`${what} ${path} is owned by uid ${info.uid}, not by the broker's user`);
  }
  if (POSIX && (info.mode & 0o077) !== 0) {
    throw new UnsafeFile(
      `${what} ${path} is readable or writable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`
    );
  }
  return true;
}

/**
 * Makes sure a file's directory exists (creating it 0700) and that only this user can change
 * what is in it: otherwise another user could swap the file or block its lock.
 *
 * @param path - a file in the directory
 * @param what - the file's role, for the message
 * @throws {@link UnsafeFile}
 */
export async function preparePrivateDir(path: string, what: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!POSIX) return;
  if (info.uid !== process.getuid?.()) {
    throw new UnsafeFile(`the directory of the ${what}, ${dir}, is not owned by the broker's user`);
  }
  if ((info.mode & 0o022) !== 0) {
    throw new UnsafeFile(
      `the directory of the ${what}, ${dir}, is writable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod go-w it`
    );
  }
}

/**
 * Creates a file with mode 0600, failing when it exists.
 *
 * @param path - the file
 * @param content - what to write
 * @param durable - fsync the file and its directory (a key file must survive a power cut; a lock
 *   file need not)
 * @returns false when the file already existed (another process was quicker)
 */
export async function createExclusive(
  path: string,
  content: string | Buffer,
  durable = true
): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(content);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  if (durable) await syncDir(dirname(path));
  return true;
}

const TEMP_MARK = '.tmp-';

/**
 * Replaces a file's content so that a crash at any point leaves either the old or the new content:
 * write a 0600 temp file in the same directory, fsync it, rename it over the file, fsync the
 * directory. A failed write removes its temp file.
 *
 * @param path - the file
 * @param content - the new content
 */
export async function replaceFile(path: string, content: Buffer): Promise<void> {
  const temp = join(
    dirname(path),
    `${basename(path)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`
  );
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/**
 * Removes what crashed processes left beside `path`: temp files of interrupted writes
 * (`<file>.tmp-<pid>-<hex>`) and lock candidates (`<file>[.<key>].lock.<pid>-<hex>`), only those
 * of processes that are gone.
 *
 * @param path - the file
 * @param alive - whether a pid still runs
 * @returns how many were removed
 */
export async function removeStaleTemps(
  path: string,
  alive: (pid: number) => boolean
): Promise<number> {
  const base = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const leftover = new RegExp(`^${base}(?:\\.tmp-|(?:\\.[a-z0-9_-]+)?\\.lock\\.)(\\d+)-[0-9a-f]+$`);
  let removed = 0;
  for (const name of await readdir(dirname(path))) {
    const pid = Number(leftover.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      await unlink(join(dirname(path), name)).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}

/** Flushes a directory entry change (create, rename, unlink) to disk; a no-op where unsupported. */
export async function syncDir(dir: string): Promise<void> {
  if (!POSIX) return;
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic there.
    if (!['EINVAL', 'EISDIR', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) {
      throw err;
    }
  } finally {
    await handle.close();
  }
}
