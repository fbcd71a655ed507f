/**
 * The audit trail's file sink: one append-mode descriptor kept open, its size tracked in memory,
 * and group commit — lines appended while a write is in flight go out together in the next single
 * write, and each caller's promise settles with the write that carries its line.
 *
 * Invariants:
 * - {@link AuditFile.append} resolves only once its line has been written to the file (not
 *   necessarily fsynced), and rejects when it could not be; a line is never split across files
 *   (rotation happens between writes) and never written twice to the same file;
 * - a failed write or open closes the descriptor and leaves the sink failed; the next call opens
 *   the path again, so the sink recovers by itself once the cause is fixed;
 * - the file is created 0600; rotation (`path` → `path.1` → … → `path.{keep}`) closes, renames and
 *   reopens between writes, so no file grows over `maxBytes` unless a single line is larger;
 * - a file removed under the broker is noticed at the next write (its link count is 0): the lines
 *   are written again to a new file at the path, or the write fails; a file renamed by someone
 *   else (logrotate) is noticed within `recheckMs` and the path opened anew;
 * - a write of at most 4 KiB to a regular file (a lone event, a light burst) is made synchronously,
 *   saving two threadpool trips per event; larger batches and other files go through the threadpool.
 */
import { close, fstat, fstatSync, open, rename, stat, write, writeSync, type Stats } from 'node:fs';
import { performance } from 'node:perf_hooks';

import type { Logger } from './log.js';

/** What an {@link AuditFile} needs. */
export interface AuditFileSinkOptions {
  /** The JSON-lines file. */
  readonly path: string;
  /** Rotate before a line would take the file over this many bytes. */
  readonly maxBytes: number;
  /** Rotated files to keep (`path.1` … `path.{keep}`). */
  readonly keep: number;
  readonly log: Logger;
  /** How often, at most, to check that `path` still names the open file (default 1000 ms). */
  readonly recheckMs?: number;
  /** A monotonic clock in milliseconds (default `performance.now`). */
  readonly monotonic?: () => number;
}

/** Lines waiting for the same write, and the promise their callers await. */
interface Batch {
  readonly lines: string[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/** The open descriptor and what is known about its file. */
interface OpenFile {
  readonly fd: number;
  readonly dev: number;
  readonly ino: number;
  /** Rotation only applies to regular files (not `/dev/full`, a FIFO, …). */
  readonly regular: boolean;
  size: number;
}

/**
 * An append-only JSON-lines file with group commit and size rotation.
 *
 * @example
 * ```ts
 * const file = new AuditFile({ path: '/run/tb/audit.jsonl', maxBytes: 1 << 20, keep: 3, log });
 * await file.ready(); // throws when the file cannot be opened for appending
 * await file.append('{"type":"logout"}\n'); // resolves once the line is in the file
 * ```
 */
export class AuditFile {
  private file: OpenFile | null = null;
  private opening: Promise<OpenFile> | null = null;
  /** The batch that collects lines while another write is in flight. */
  private next: Batch | null = null;
  private flushing: Promise<void> | null = null;
  /** The last failure, until an open succeeds again (logged once per failure). */
  private failure: unknown = null;
  /** A failed write left a partial line at the end of the file: start the next with a newline. */
  private torn = false;
  private checkedAt: number;
  private readonly recheckMs: number;
  private readonly monotonic: () => number;

  /** @param options - the path, rotation limits and logger */
  constructor(private readonly options: AuditFileSinkOptions) {
    this.recheckMs = options.recheckMs ?? 1000;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.checkedAt = this.monotonic();
  }

  /** Whether the file is open and the last write succeeded. */
  get healthy(): boolean {
    return this.file !== null;
  }

  /**
   * Makes sure the file is open for appending: at once when it is, else by opening it (again).
   *
   * @throws the file system error when the file cannot be opened
   */
  async ready(): Promise<void> {
    if (this.file === null) await this.open();
  }

  /**
   * Appends one line (with its trailing newline) in the next write.
   *
   * @param line - a complete line ending in `\n`
   * @returns settles when the write carrying the line has been done
   * @throws the file system error of that write (or of opening the file)
   */
  append(line: string): Promise<void> {
    let batch = this.next;
    if (batch === null) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = this.next = { lines: [], done, resolve, reject };
    }
    batch.lines.push(line);
    // Lines from the same turn of the event loop share the first write too.
    this.flushing ??= new Promise<void>(resolve => setImmediate(resolve)).then(() => this.flush());
    return batch.done;
  }

  /** Waits for pending lines, then closes the descriptor. */
  async close(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    const file = this.file;
    this.file = null;
    if (file !== null) await closeFd(file.fd);
  }

  /** Writes batch after batch until no line waits. */
  private async flush(): Promise<void> {
    try {
      while (this.next !== null) {
        const batch = this.next;
        this.next = null;
        try {
          await this.commit(batch.lines);
          batch.resolve();
        } catch (err) {
          batch.reject(err);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /** One batch: open if needed, notice an outside rotation, then write, rotating between lines. */
  private async commit(lines: string[]): Promise<void> {
    try {
      let file = this.file ?? (await this.open());
      if (this.monotonic() - this.checkedAt >= this.recheckMs) file = await this.recheck(file);
      const { maxBytes } = this.options;
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < lines.length; i++) {
        const size = Buffer.byteLength(lines[i]);
        if (file.regular && file.size + bytes > 0 && file.size + bytes + size > maxBytes) {
          if (i > start) file = await this.write(file, lines.slice(start, i).join(''));
          file = await this.rotate(file);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      await this.write(file, lines.slice(start).join(''));
    } catch (err) {
      await this.fail(err);
      throw err;
    }
  }

  /**
   * Writes `text` whole. The file's link count, read alongside, tells whether it was removed
   * meanwhile; then the text goes to a new file at the path.
   *
   * @returns the file now open (a new one when the old was removed)
   */
  private async write(file: OpenFile, text: string): Promise<OpenFile> {
    const data = Buffer.from(text);
    const out = this.torn ? Buffer.concat([NEWLINE, data]) : data;
    let info: Stats;
    if (file.regular && out.length <= SYNC_WRITE_MAX) {
      // A short write to a regular file lands in the page cache in microseconds: done at once, it
      // saves two trips through libuv's threadpool (the latency of a lone token request).
      this.writeAllNow(file.fd, out);
      info = fstatSync(file.fd);
    } else {
      // Both settle before going on: the descriptor must not be closed under a write in flight.
      const [wrote, stated] = await Promise.allSettled([
        this.writeAll(file.fd, out),
        fstatFd(file.fd)
      ]);
      if (wrote.status === 'rejected') throw wrote.reason;
      if (stated.status === 'rejected') throw stated.reason;
      info = stated.value;
    }
    this.torn = false;
    file.size += out.length;
    if (info.nlink > 0) return file;
    this.options.log.warn('audit_file_removed', { path: this.options.path });
    const fresh = await this.reopen(file);
    await this.writeAll(fresh.fd, data);
    fresh.size += data.length;
    return fresh;
  }

  private async writeAll(fd: number, data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += await writeFd(fd, data, offset);
      } catch (err) {
        // A line cut short stays in the file; the next write starts on a new line.
        if (offset > 0 && data[offset - 1] !== 0x0a) this.torn = true;
        throw err;
      }
    }
  }

  /** {@link AuditFile.writeAll} without leaving the event loop's thread. */
  private writeAllNow(fd: number, data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(fd, data, offset, data.length - offset);
      } catch (err) {
        if (offset > 0 && data[offset - 1] !== 0x0a) this.torn = true;
        throw err;
      }
    }
  }

  /** `path` → `path.1` → … → `path.{keep}`, then a new empty file at `path`. */
  private async rotate(file: OpenFile): Promise<OpenFile> {
    const { path, keep } = this.options;
    this.file = null;
    await closeFd(file.fd);
    for (let i = keep - 1; i >= 1; i--) {
      await renamePath(`${path}.${i}`, `${path}.${i + 1}`).catch(ignoreMissing);
    }
    await renamePath(path, `${path}.1`).catch(ignoreMissing);
    return this.open();
  }

  /** Whether `path` still names the open file; if not (renamed or removed by someone else), opens it anew. */
  private async recheck(file: OpenFile): Promise<OpenFile> {
    this.checkedAt = this.monotonic();
    let info: Stats | null = null;
    try {
      info = await statPath(this.options.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (info !== null && info.dev === file.dev && info.ino === file.ino) {
      file.size = info.size; // truncated by someone else (copytruncate): rotate from the real size
      return file;
    }
    this.options.log.info('audit_file_replaced', { path: this.options.path });
    return this.reopen(file);
  }

  private async reopen(file: OpenFile): Promise<OpenFile> {
    this.file = null;
    await closeFd(file.fd).catch(() => undefined);
    return this.open();
  }

  /** Opens the path for appending (created 0600); one attempt shared by concurrent callers. */
  private open(): Promise<OpenFile> {
    this.opening ??= (async () => {
      try {
        const fd = await openPath(this.options.path);
        let info: Stats;
        try {
          info = await fstatFd(fd);
        } catch (err) {
          await closeFd(fd).catch(() => undefined);
          throw err;
        }
        const file: OpenFile = {
          fd,
          dev: info.dev,
          ino: info.ino,
          regular: info.isFile(),
          size: info.size
        };
        this.file = file;
        this.checkedAt = this.monotonic();
        if (this.failure !== null) {
          this.failure = null;
          this.options.log.info('audit_writable_again', { path: this.options.path });
        }
        return file;
      } catch (err) {
        this.note(err);
        throw err;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  /** A failed write: the descriptor is closed; the next call opens the path again. */
  private async fail(err: unknown): Promise<void> {
    this.note(err);
    const file = this.file;
    this.file = null;
    if (file !== null) await closeFd(file.fd).catch(() => undefined);
  }

  /** Logs a failure once, until the sink recovers. */
  private note(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err;
    this.options.log.error('audit_write_failed', {
      path: this.options.path,
      reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message
    });
  }
}

const NEWLINE = Buffer.from('\n');

/**
 * Writes to a regular file up to this size are made synchronously (a lone event, or the few of a
 * light burst); larger batches go through the threadpool so that the event loop never waits long.
 */
const SYNC_WRITE_MAX = 4096;

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

// The callback API with plain descriptors: cheaper per call than FileHandle, and a descriptor that
// is never garbage-collected shut behind the sink's back.

function openPath(path: string): Promise<number> {
  return new Promise((resolve, reject) =>
    open(path, 'a', 0o600, (err, fd) => (err ? reject(err) : resolve(fd)))
  );
}

function writeFd(fd: number, data: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    write(fd, data, offset, data.length - offset, null, (err, written) =>
      err ? reject(err) : resolve(written)
    )
  );
}

function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) =>
    fstat(fd, (err, info) => (err ? reject(err) : resolve(info)))
  );
}

function statPath(path: string): Promise<Stats> {
  return new Promise((resolve, reject) =>
    stat(path, (err, info) => (err ? reject(err) : resolve(info)))
  );
}

function renamePath(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, err => (err ? reject(err) : resolve())));
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, err => (err ? reject(err) : resolve())));
}
