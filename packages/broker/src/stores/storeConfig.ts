/**
 * The `store` section of the config file: its shapes, defaults and validation. `config.ts` calls
 * {@link validateStoreConfig} and turns a problem into its `ConfigError` naming the key.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** Grants in process memory: lost when the broker stops. */
export interface MemoryStoreConfig {
  readonly type: 'memory';
}

/** Grants in an AES-256-GCM encrypted file. */
export interface FileStoreConfig {
  readonly type: 'file';
  /** Absolute path of the store file (created 0600; its directory 0700 when missing). */
  readonly path: string;
  /** Absolute path of the 0600 file holding the 32-byte key as 64 hex characters. */
  readonly key_file: string;
}

/** Grants in the OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager). */
export interface KeyringStoreConfig {
  readonly type: 'keyring';
  /** Service name of the entries; default `jupyter-token-broker`. */
  readonly service: string;
  /** Directory of the `@napi-rs/keyring` package when it is not in a node_modules next to the broker. */
  readonly module_path: string | null;
  /**
   * Directory of the lock files that keep brokers of one user sharing the keychain to one refresh
   * at a time per grant (created 0700); default `~/.cache/jupyter-token-broker/keyring-locks`.
   */
  readonly lock_dir: string;
}

/** Where grants are kept. */
export type StoreConfig = MemoryStoreConfig | FileStoreConfig | KeyringStoreConfig;

/** The keyring store's default service name. */
export const DEFAULT_KEYRING_SERVICE = 'jupyter-token-broker';

/**
 * The keyring store's default lock directory, under the user's home (the broker's environment has
 * no XDG variables: the server extension passes only PATH, HOME and LANG).
 *
 * @returns `~/.cache/jupyter-token-broker/keyring-locks`
 */
export function defaultKeyringLockDir(): string {
  return join(homedir(), '.cache', 'jupyter-token-broker', 'keyring-locks');
}

/** Called with the dotted key and the problem; must throw. */
export type ConfigProblem = (key: string, problem: string) => never;

const KEYS: Record<StoreConfig['type'], readonly string[]> = {
  memory: ['type'],
  file: ['type', 'path', 'key_file'],
  keyring: ['type', 'service', 'module_path', 'lock_dir']
};

function absolutePath(value: unknown, key: string, fail: ConfigProblem): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    return fail(key, 'must be a path');
  }
  if (!isAbsolute(value)) return fail(key, 'must be an absolute path');
  return value;
}

/**
 * Checks the `store` section and fills in its defaults.
 *
 * @param raw - the section as parsed (undefined: the default memory store)
 * @param fail - reports the first bad key (`store.type`, `store.path`, …)
 * @returns the typed section
 * @example
 * ```ts
 * validateStoreConfig({ type: 'memory' }, (key, problem) => {
 *   throw new Error(`${key}: ${problem}`);
 * });
 * ```
 */
export function validateStoreConfig(raw: unknown, fail: ConfigProblem): StoreConfig {
  if (raw === undefined) return { type: 'memory' };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('store', 'must be an object');
  }
  const section = raw as Record<string, unknown>;
  const type = section.type;
  if (type !== 'memory' && type !== 'file' && type !== 'keyring') {
    return fail('store.type', 'must be "memory", "file" or "keyring"');
  }
  for (const k of Object.keys(section)) {
    if (!KEYS[type].includes(k)) fail(`store.${k}`, `is not an option of the ${type} store`);
  }
  switch (type) {
    case 'memory':
      return { type };
    case 'file': {
      const path = absolutePath(section.path, 'store.path', fail);
      const keyFile = absolutePath(section.key_file, 'store.key_file', fail);
      if (keyFile === path) fail('store.key_file', 'must not be the store file');
      return { type, path, key_file: keyFile };
    }
    case 'keyring': {
      const service = section.service ?? DEFAULT_KEYRING_SERVICE;
      if (typeof service !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(service)) {
        return fail('store.service', 'must be 1 to 128 printable ASCII characters');
      }
      const modulePath =
        section.module_path == null
          ? null
          : absolutePath(section.module_path, 'store.module_path', fail);
      const lockDir =
        section.lock_dir == null
          ? defaultKeyringLockDir()
          : absolutePath(section.lock_dir, 'store.lock_dir', fail);
      return { type, service, module_path: modulePath, lock_dir: lockDir };
    }
  }
}
