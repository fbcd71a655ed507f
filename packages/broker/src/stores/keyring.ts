/**
 * Grants in the OS keychain through `@napi-rs/keyring`: the Secret Service (gnome-keyring, KWallet)
 * on Linux, the Keychain on macOS, the Credential Manager on Windows.
 *
 * - One entry per grant: service `store.service` (default `jupyter-token-broker`), account
 *   `<OS user>/<provider>`, the password a JSON grant. `delete` needs no listing, and
 *   `findCredentials(service)` lists what the broker holds for a person looking with their keychain
 *   tool.
 * - On Linux every entry is pinned to the Secret Service. The library's default falls back to the
 *   kernel keyring (keyutils) without one, which lives only in memory and is lost at logout: the
 *   broker must never store there while claiming durability. `open` writes, reads back and deletes
 *   a probe entry and fails start-up with `store_unavailable` when no Secret Service answers.
 * - The native binding cannot be bundled. It is loaded only when this store is configured, with
 *   `require` from `store.module_path` when set, else from a `node_modules` next to or above the
 *   broker script (see the README, "Secret stores").
 * - The keychain offers no lock, so {@link KeyringStore.withLock} holds a lock file in
 *   `store.lock_dir` (one per service and grant) besides its in-process mutex: two brokers of one
 *   user sharing the keychain (two Jupyter servers on one laptop) refresh a rotating grant once.
 * - The broker's small records (consents, pending revocations; `records.ts`) are one entry per
 *   namespace, account `<OS user>/records/<namespace>` (provider ids never contain `/`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { join } from 'node:path';

import { StoreUnavailable } from '../errors.js';
import type { RecordStore } from './records.js';
import { FileLock, type FileLockOptions, LockTimeout } from './fileLock.js';
import { MalformedGrant, parseSecretJson, readGrant } from './grantCodec.js';
import { KeyedMutex } from './keyedMutex.js';
import { preparePrivateDir, UnsafeFile } from './privateFile.js';
import type { Grant, TokenStore } from './tokenStore.js';

type KeyringModule = typeof import('@napi-rs/keyring');
type AsyncEntry = InstanceType<KeyringModule['AsyncEntry']>;

/** The binding's package name. */
const MODULE = '@napi-rs/keyring';

/** What a {@link KeyringStore} needs. */
export interface KeyringStoreOptions {
  /** Service name of the entries. */
  readonly service: string;
  /** Directory of the `@napi-rs/keyring` package, or null to resolve it from the broker script. */
  readonly modulePath: string | null;
  /** Loads the binding; the default `require`s it (a seam for the "not installed" test). */
  readonly load?: (modulePath: string | null) => KeyringModule;
  /** Directory of the cross-process lock files (created 0700). */
  readonly lockDir: string;
  /** Whether opening may create the lock directory (false for `check-config`, which creates nothing). */
  readonly create?: boolean;
  /** Timing of the cross-process locks. */
  readonly lock: FileLockOptions;
}

/**
 * Loads the native binding.
 *
 * @param modulePath - the package directory, or null for normal resolution from this script
 * @returns the module
 * @throws when it is not installed for this platform
 */
export function loadKeyringModule(modulePath: string | null): KeyringModule {
  const require = createRequire(import.meta.url);
  return require(modulePath ?? MODULE) as KeyringModule;
}

/**
 * The OS keychain store.
 *
 * @example
 * ```ts
 * const store = new KeyringStore({
 *   service: 'jupyter-token-broker',
 *   modulePath: null,
 *   lockDir: '/home/alice/.cache/jupyter-token-broker/keyring-locks',
 *   lock: { waitMs: 25000, staleMs: 40000 }
 * });
 * await store.open(); // rejects with store_unavailable without a Secret Service
 * ```
 */
export class KeyringStore implements TokenStore {
  private module: KeyringModule | undefined;
  private readonly user = userInfo().username;
  private readonly mutex = new KeyedMutex();
  /** {@inheritDoc TokenStore.durable} */
  readonly durable = true;

  constructor(private readonly options: KeyringStoreOptions) {}

  /** Records beside the grants, one keychain entry per namespace (see `records.ts`). */
  readonly records: RecordStore = {
    getRecords: namespace => this.readRecords(namespace),
    putRecord: (namespace, key, value) =>
      this.mutex.run(`records ${namespace}`, async () => {
        const space = { ...(await this.readRecords(namespace)), [key]: value };
        await this.call(() =>
          this.entry(`records/${namespace}`).setPassword(JSON.stringify(space))
        );
      }),
    deleteRecord: (namespace, key) =>
      this.mutex.run(`records ${namespace}`, async () => {
        const space = { ...(await this.readRecords(namespace)) };
        if (!Object.hasOwn(space, key)) return;
        delete space[key];
        await this.call(async () => {
          const entry = this.entry(`records/${namespace}`);
          if (Object.keys(space).length === 0) await entry.deletePassword();
          else await entry.setPassword(JSON.stringify(space));
        });
      })
  };

  private async readRecords(namespace: string): Promise<Record<string, string>> {
    const text = await this.call(() => this.entry(`records/${namespace}`).getPassword());
    if (text === null) return {};
    let value: unknown;
    try {
      value = parseSecretJson(text, `keychain records ${namespace}`);
    } catch (err) {
      value = err;
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      value instanceof Error ||
      !Object.values(value).every(v => typeof v === 'string')
    ) {
      throw new StoreUnavailable(
        `The keychain entry of the '${namespace}' records is not a record map.`,
        { cause: value instanceof Error ? value : undefined }
      );
    }
    return value as Record<string, string>;
  }

  /** {@inheritDoc TokenStore.open} */
  async open(): Promise<void> {
    const fail = (problem: string, cause: unknown): StoreUnavailable =>
      new StoreUnavailable(`store.type "keyring": ${problem}`, { cause });
    try {
      // check-config creates nothing: a lock directory still to be made is checked by `serve`.
      if (this.options.create !== false || existsSync(this.options.lockDir)) {
        await preparePrivateDir(this.lockPath('probe'), 'keyring lock files');
      }
    } catch (err) {
      const reason =
        err instanceof UnsafeFile ? err.message : ((err as NodeJS.ErrnoException).code ?? 'error');
      throw fail(`store.lock_dir cannot be used (${reason})`, err);
    }
    try {
      this.module = (this.options.load ?? loadKeyringModule)(this.options.modulePath);
    } catch (err) {
      throw fail(
        `cannot load ${MODULE} (${(err as NodeJS.ErrnoException).code ?? 'error'}): install it in a node_modules next to the broker script, or set store.module_path to its package directory`,
        err
      );
    }
    const value = randomBytes(16).toString('hex');
    try {
      // The binding may already throw when it makes the entry (no session bus to connect to).
      const probe = this.entry(`.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      await probe.setPassword(value);
      const back = await probe.getPassword();
      await probe.deletePassword();
      if (back !== value) throw new Error('the probe entry read back differently');
    } catch (err) {
      throw fail(
        `the OS keychain does not answer (${(err as Error).message}). On Linux it needs a D-Bus session bus with an unlocked Secret Service (gnome-keyring, KWallet); where there is none, as in most containers, use store.type "file"`,
        err
      );
    }
  }

  /** {@inheritDoc TokenStore.get} */
  async get(provider: string): Promise<Grant | undefined> {
    const text = await this.call(() => this.entry(provider).getPassword());
    if (text === null) return undefined;
    try {
      return readGrant(
        parseSecretJson(text, `keychain entry ${provider}`),
        `keychain entry ${provider}`
      );
    } catch (err) {
      if (err instanceof MalformedGrant) {
        throw new StoreUnavailable(`The keychain entry of '${provider}' is not a grant.`, {
          cause: err
        });
      }
      throw err;
    }
  }

  /** {@inheritDoc TokenStore.put} */
  async put(grant: Grant): Promise<void> {
    const text = JSON.stringify(readGrant(grant, 'grant'));
    await this.call(() => this.entry(grant.provider).setPassword(text));
  }

  /** {@inheritDoc TokenStore.delete} */
  async delete(provider: string): Promise<void> {
    await this.call(() => this.entry(provider).deletePassword());
  }

  /** {@inheritDoc TokenStore.withLock} */
  withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.mutex.run(key, async () => {
      let release;
      try {
        release = await new FileLock(this.lockPath(key), this.options.lock).acquire();
      } catch (err) {
        throw new StoreUnavailable(
          err instanceof LockTimeout
            ? `The keychain grant is busy: ${err.message}.`
            : 'The keychain lock file cannot be used.',
          { cause: err }
        );
      }
      try {
        return await task();
      } finally {
        await release();
      }
    });
  }

  /**
   * The lock file of a key: one per service, OS user and key, so stores of other services or
   * users in the same directory never share a lock.
   *
   * @param key - a provider id (or `probe`)
   * @returns `<lock_dir>/<service>.<user>.<key>.lock`, the service and user percent-encoded
   */
  lockPath(key: string): string {
    const name = [this.options.service, this.user].map(encodeURIComponent).join('.');
    return join(this.options.lockDir, `${name}.${encodeURIComponent(key)}.lock`);
  }

  /** {@inheritDoc TokenStore.close} */
  async close(): Promise<void> {}

  /**
   * The account name of a provider's entry.
   *
   * @param provider - provider id
   * @returns `<OS user>/<provider>`
   */
  account(provider: string): string {
    return `${this.user}/${provider}`;
  }

  private entry(provider: string): AsyncEntry {
    if (this.module === undefined) throw new Error('the keyring store is not open');
    // Pinned: never the kernel keyring fallback (ignored on macOS and Windows).
    return new this.module.AsyncEntry(this.options.service, this.account(provider), {
      linux: { store: 'secret-service' }
    });
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      throw new StoreUnavailable(
        'The OS keychain does not answer (is the Secret Service still running and unlocked?).',
        { cause: err }
      );
    }
  }
}
