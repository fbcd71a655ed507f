/**
 * Grants in one AES-256-GCM encrypted file (format in `sealing.ts`), for brokers that must keep
 * their sign-ins across restarts where there is no OS keychain (containers).
 *
 * - The key is 32 bytes in `store.key_file` (64 hex characters, mode 0600). `open` creates the key
 *   file when neither it nor the store file exists, and refuses to start when the store file
 *   exists without its key: a new key would silently throw every grant away.
 * - Both files and their directories must belong to the broker's user, the files readable by no
 *   one else (0600), the directories writable by no one else; otherwise `store_unavailable`.
 * - Every write replaces the file atomically (`privateFile.replaceFile`) under a cross-process
 *   write lock (`<path>.lock`), re-reading the current content inside it, so writers in several
 *   processes never lose each other's grants.
 * - A file that fails authentication is an error on every read and write, never an empty store:
 *   nothing overwrites it until someone removes it.
 * - {@link FileStore.withLock} holds `<path>.<provider>.lock` across processes.
 * - It keeps the broker's small records (plugin consents, pending revocations) in the same
 *   document, as durably and as encrypted as the grants ({@link FileStore.records}).
 * - Every write seals a generation one higher than any seen; an older genuine copy of the file put
 *   back is refused with `store_rolled_back`, never used (`highWater.ts`, which says what it cannot
 *   catch).
 */
import { readFile } from 'node:fs/promises';

import { PROVIDER_ID } from '../contract.generated.js';
import { BrokerError, StoreUnavailable } from '../errors.js';
import type { RecordStore } from './records.js';
import { LockTimeout, FileLock, type FileLockOptions, pidAlive } from './fileLock.js';
import { MalformedGrant, parseSecretJson, readGrant } from './grantCodec.js';
import { StoreRolledBack, markPathOf, readMark, writeMark } from './highWater.js';
import { KeyedMutex } from './keyedMutex.js';
import {
  UnsafeFile,
  checkPrivateFile,
  createExclusive,
  preparePrivateDir,
  removeStaleTemps,
  replaceFile
} from './privateFile.js';
import { UnsealError, newKeyText, parseKey, seal, unseal } from './sealing.js';
import type { Grant, TokenStore } from './tokenStore.js';

/** What a {@link FileStore} needs. */
export interface FileStoreOptions {
  /** The store file (absolute). */
  readonly path: string;
  /** The key file (absolute). */
  readonly keyFile: string;
  /** Timing of the cross-process locks. */
  readonly lock: FileLockOptions;
  /** Whether `open` may create the key file and directories (false for `check-config`). */
  readonly create?: boolean;
}

/** Lock keys are provider ids; they become part of a file name. */
const LOCK_KEY = PROVIDER_ID;

/** The decrypted document. */
interface Document {
  version: 1;
  /** One more on every write; 0 in files written before it existed. */
  generation: number;
  grants: Record<string, unknown>;
  /** Records kept beside the grants (`records.ts`): namespace → key → value. */
  records: Record<string, Record<string, string>>;
}

/**
 * The encrypted file store.
 *
 * @example
 * ```ts
 * const store = new FileStore({
 *   path: '/home/alice/.local/share/jupyter/token-broker/grants.store',
 *   keyFile: '/home/alice/.local/share/jupyter/token-broker/store.key',
 *   lock: { waitMs: 25000, staleMs: 40000 }
 * });
 * await store.open();
 * ```
 */
export class FileStore implements TokenStore {
  private key: Buffer | undefined;
  /** The highest generation this store read or wrote: a file older than it was put back. */
  private highWater = 0;
  private readonly markPath: string;
  private readonly mutex = new KeyedMutex();
  private readonly writeLock: FileLock;
  /** {@inheritDoc TokenStore.durable} */
  readonly durable = true;

  /** Records beside the grants, in the same encrypted file (see `records.ts`). */
  readonly records: RecordStore = {
    getRecords: async namespace => {
      try {
        return { ...(await this.read()).records[namespace] };
      } catch (err) {
        throw unavailable(err);
      }
    },
    putRecord: (namespace, key, value) =>
      this.change(document => {
        document.records[namespace] = { ...document.records[namespace], [key]: value };
        return true;
      }),
    deleteRecord: (namespace, key) =>
      this.change(document => {
        const space = document.records[namespace];
        if (space === undefined || !Object.hasOwn(space, key)) return false;
        delete space[key];
        if (Object.keys(space).length === 0) delete document.records[namespace];
        return true;
      })
  };

  constructor(private readonly options: FileStoreOptions) {
    this.writeLock = new FileLock(`${options.path}.lock`, options.lock);
    this.markPath = markPathOf(options.path);
  }

  /** {@inheritDoc TokenStore.open} */
  async open(): Promise<void> {
    const { path, keyFile } = this.options;
    try {
      if (this.options.create !== false) {
        await preparePrivateDir(path, 'store file');
        await preparePrivateDir(keyFile, 'key file');
      }
      const hasStore = await checkPrivateFile(path, 'store file (store.path)');
      let hasKey = await checkPrivateFile(keyFile, 'key file (store.key_file)');
      if (!hasKey && hasStore) {
        throw new UnsafeFile(
          `store file ${path} exists but its key file ${keyFile} does not: restore the key file, or remove the store file to start over with every provider signed out`
        );
      }
      if (!hasKey && this.options.create !== false) {
        // Another broker may create it at the same moment; then both use that one.
        await createExclusive(keyFile, newKeyText());
        hasKey = await checkPrivateFile(keyFile, 'key file (store.key_file)');
      }
      if (!hasKey) return; // check-config: nothing to read yet
      const key = parseKey(await readFile(keyFile, 'utf8'));
      if (key === undefined) {
        throw new UnsafeFile(`key file ${keyFile} must hold 64 hex characters (32 bytes)`);
      }
      this.key = key;
      if (this.options.create !== false) {
        await removeStaleTemps(path, pidAlive);
        await removeStaleTemps(this.markPath, pidAlive);
      }
      await this.read();
    } catch (err) {
      throw unavailable(err, `store.type "file": `);
    }
  }

  /** {@inheritDoc TokenStore.get} */
  async get(provider: string): Promise<Grant | undefined> {
    try {
      const grants = (await this.read()).grants;
      return Object.hasOwn(grants, provider)
        ? readGrant(grants[provider], `grants.${provider}`)
        : undefined;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** {@inheritDoc TokenStore.put} */
  put(grant: Grant): Promise<void> {
    return this.change(({ grants }) => {
      grants[grant.provider] = readGrant(grant, `grants.${grant.provider}`);
      return true;
    });
  }

  /** {@inheritDoc TokenStore.delete} */
  delete(provider: string): Promise<void> {
    return this.change(({ grants }) => {
      if (!Object.hasOwn(grants, provider)) return false;
      delete grants[provider];
      return true;
    });
  }

  /** {@inheritDoc TokenStore.withLock} */
  withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
    if (!LOCK_KEY.test(key)) {
      return Promise.reject(new TypeError(`lock key must match ${LOCK_KEY.source}`));
    }
    return this.mutex.run(`grant ${key}`, async () => {
      const release = await this.lock(
        new FileLock(`${this.options.path}.${key}.lock`, this.options.lock)
      );
      try {
        return await task();
      } finally {
        await release();
      }
    });
  }

  /** {@inheritDoc TokenStore.close} */
  async close(): Promise<void> {
    this.key?.fill(0);
    this.key = undefined;
  }

  private async lock(lock: FileLock): Promise<() => Promise<void>> {
    try {
      return await lock.acquire();
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** Reads, changes and writes back the document under the write lock; `edit` says whether it changed. */
  private change(edit: (document: Document) => boolean): Promise<void> {
    return this.mutex.run('write', async () => {
      const release = await this.lock(this.writeLock);
      try {
        const document = await this.read();
        if (!edit(document)) return;
        // Above every generation seen: a store file removed to start over continues the count.
        document.generation = this.highWater + 1;
        await replaceFile(
          this.options.path,
          seal(this.requireKey(), Buffer.from(JSON.stringify(document), 'utf8'))
        );
        // The mark only after the file it vouches for: it never runs ahead of the store file.
        await writeMark(this.markPath, document.generation);
        this.highWater = document.generation;
      } catch (err) {
        throw unavailable(err);
      } finally {
        await release();
      }
    });
  }

  private requireKey(): Buffer {
    if (this.key === undefined) throw new Error('the file store is not open');
    return this.key;
  }

  /**
   * The current document; a missing file is an empty store (removing it is how one starts over).
   *
   * @throws {@link StoreRolledBack} when it is older than a generation already seen
   */
  private async read(): Promise<Document> {
    // The mark before the file (see highWater.ts): a current file is never older than its mark.
    const seen = Math.max(this.highWater, await readMark(this.markPath));
    this.highWater = seen;
    let sealed: Buffer;
    try {
      sealed = await readFile(this.options.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { version: 1, generation: seen, grants: {}, records: {} };
      }
      throw err;
    }
    const text = unseal(this.requireKey(), sealed).toString('utf8');
    const document = parseSecretJson(text, 'the store document') as Partial<Document> | null;
    if (
      typeof document !== 'object' ||
      document === null ||
      document.version !== 1 ||
      typeof document.grants !== 'object' ||
      document.grants === null ||
      (document.records !== undefined && !isRecordSpaces(document.records))
    ) {
      throw new MalformedGrant('the store document');
    }
    const generation = document.generation ?? 0;
    if (!Number.isSafeInteger(generation) || generation < 0) {
      throw new MalformedGrant('the store document');
    }
    if (generation < seen) {
      throw new StoreRolledBack(this.options.path, generation, seen, this.markPath);
    }
    this.highWater = generation;
    return {
      version: 1,
      generation,
      grants: { ...document.grants },
      records: { ...document.records }
    };
  }
}

function isRecordSpaces(value: unknown): value is Document['records'] {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every(
      space =>
        typeof space === 'object' &&
        space !== null &&
        Object.values(space).every(v => typeof v === 'string')
    )
  );
}

/** Turns a store failure into `store_unavailable` with a description that says what is wrong. */
function unavailable(err: unknown, prefix = ''): BrokerError {
  // Its own code (store_rolled_back) and words: passed on as they are.
  if (err instanceof StoreUnavailable || err instanceof StoreRolledBack) return err;
  let description: string;
  if (err instanceof UnsealError) description = `The token store file ${err.message}.`;
  else if (err instanceof UnsafeFile || err instanceof MalformedGrant) {
    description = `The token store: ${err.message}.`;
  } else if (err instanceof LockTimeout) {
    description = `The token store is busy: ${err.message}.`;
  } else {
    const code = (err as NodeJS.ErrnoException)?.code;
    description = `The token store file cannot be used${code === undefined ? '' : ` (${code})`}.`;
  }
  return new StoreUnavailable(prefix + description, { cause: err });
}
