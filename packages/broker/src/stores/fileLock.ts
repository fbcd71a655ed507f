/**
 * A lock across processes that share a directory: a lock file that names its holder
 * (`{pid, host, time, nonce}`), written complete to a private candidate file and then hard-linked
 * into place (`link` fails when the lock exists), so no one ever sees a half-written lock. Where the
 * filesystem has no hard links it is created with O_EXCL instead.
 *
 * - Waiting is bounded: after `waitMs` the caller gets {@link LockTimeout}.
 * - A lock is stale when its holder's pid is gone (same host) or it is older than `staleMs`
 *   (another host, or a holder that hangs); a waiter then takes it over.
 * - Taking over goes through a short second lock (`<lock>.break`) and re-reads the holder under it,
 *   so two waiters that both saw the same stale lock cannot delete each other's fresh one.
 * - Release removes the file only while it still names this holder.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { createExclusive } from './privateFile.js';

/** Who holds a lock. */
interface Holder {
  pid: number;
  host: string;
  /** Epoch milliseconds of taking the lock. */
  time: number;
  nonce: string;
}

/** The lock could not be had within the wait. */
export class LockTimeout extends Error {
  /** @param path - the lock file; @param holder - its holder's pid, when known */
  constructor(path: string, holder: number | undefined, waitedMs: number) {
    super(
      `lock ${path} is still held${holder === undefined ? '' : ` by pid ${holder}`} after ${waitedMs} ms`
    );
    this.name = 'LockTimeout';
  }
}

/** Timing of a {@link FileLock}. */
export interface FileLockOptions {
  /** Longest wait for the lock, in ms. */
  readonly waitMs: number;
  /** A lock older than this is taken over even when its holder may live, in ms. */
  readonly staleMs: number;
}

/** A held lock; call it to release. */
export type Release = () => Promise<void>;

/**
 * Whether a process runs on this host.
 *
 * @param pid - process id
 * @returns false only when it is certainly gone
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** How long a half-written lock file (created, holder not yet written) may look empty, in ms. */
const UNWRITTEN_GRACE_MS = 2000;
/** A break lock older than this belongs to a process that died while taking over. */
const BREAK_STALE_MS = 5000;

/**
 * One lock file.
 *
 * @example
 * ```ts
 * const lock = new FileLock('/run/store.json.lock', { waitMs: 5000, staleMs: 30000 });
 * const release = await lock.acquire();
 * try {
 *   // read, change, write
 * } finally {
 *   await release();
 * }
 * ```
 */
export class FileLock {
  constructor(
    readonly path: string,
    private readonly options: FileLockOptions
  ) {}

  /**
   * Waits for the lock.
   *
   * @returns the release function
   * @throws {@link LockTimeout} after `waitMs`
   */
  async acquire(): Promise<Release> {
    const started = Date.now();
    const me: Holder = {
      pid: process.pid,
      host: hostname(),
      time: 0,
      nonce: randomBytes(12).toString('hex')
    };
    for (let round = 0; ; round++) {
      me.time = Date.now();
      if (await this.create(me)) {
        return () => this.release(me.nonce);
      }
      const seen = await this.read();
      if (seen === undefined) continue; // released in between
      if (this.isStale(seen)) {
        await this.takeOver(seen);
        continue;
      }
      const waited = Date.now() - started;
      if (waited >= this.options.waitMs) {
        throw new LockTimeout(this.path, seen.holder?.pid, waited);
      }
      // Back off a little more each round, with jitter so waiters do not poll in step.
      await sleep(Math.min(100, 5 + round * 5) + Math.random() * 10);
    }
  }

  /** Creates the lock file naming `me`; false when it exists. */
  private async create(me: Holder): Promise<boolean> {
    const text = JSON.stringify(me);
    const candidate = `${this.path}.${me.pid}-${me.nonce}`;
    await writeFile(candidate, text, { mode: 0o600, flag: 'wx' });
    try {
      await link(candidate, this.path);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EXDEV') {
        return createExclusive(this.path, text, false);
      }
      throw err;
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
  }

  /** The lock file as it is now: its text, inode and holder (when the text parses). */
  private async read(): Promise<
    { text: string; ino: number; mtimeMs: number; holder?: Holder } | undefined
  > {
    try {
      const [info, text] = await Promise.all([stat(this.path), readFile(this.path, 'utf8')]);
      let holder: Holder | undefined;
      try {
        const value = JSON.parse(text) as Holder;
        if (Number.isInteger(value.pid) && typeof value.nonce === 'string') holder = value;
      } catch {
        holder = undefined;
      }
      return { text, ino: info.ino, mtimeMs: info.mtimeMs, holder };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private isStale(seen: { mtimeMs: number; holder?: Holder }): boolean {
    const now = Date.now();
    if (seen.holder === undefined) return now - seen.mtimeMs > UNWRITTEN_GRACE_MS;
    if (seen.holder.host === hostname() && !pidAlive(seen.holder.pid)) return true;
    return now - seen.holder.time > this.options.staleMs;
  }

  /** Deletes a stale lock, unless it changed since it was judged stale. */
  private async takeOver(judged: { text: string; ino: number }): Promise<void> {
    const breakPath = `${this.path}.break`;
    if (!(await createExclusive(breakPath, String(process.pid), false))) {
      const info = await stat(breakPath).catch(() => undefined);
      if (info !== undefined && Date.now() - info.mtimeMs > BREAK_STALE_MS) {
        await unlink(breakPath).catch(() => undefined);
      } else {
        await sleep(5);
      }
      return;
    }
    try {
      const now = await this.read();
      if (now !== undefined && now.ino === judged.ino && now.text === judged.text) {
        await unlink(this.path).catch(() => undefined);
      }
    } finally {
      await unlink(breakPath).catch(() => undefined);
    }
  }

  private async release(nonce: string): Promise<void> {
    const now = await this.read();
    // Held past staleMs and taken over: the file is someone else's now.
    if (now?.holder?.nonce === nonce) await unlink(this.path).catch(() => undefined);
  }
}
