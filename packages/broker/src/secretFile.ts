/**
 * Files that hold secrets (the config file with a hub token, the broker key, a provider's client
 * secret) are refused when group or others may read them: a secret in a readable file is already
 * shared, and the broker must not make it look kept.
 */
import { readFile, stat } from 'node:fs/promises';

import { ConfigError } from './configError.js';

/**
 * Why a file with this mode must not hold a secret.
 *
 * @param mode - the file's `stat` mode
 * @returns `readable by group or others (mode 644); chmod 600 it`, or undefined when only its owner may
 *   read it
 * @example
 * ```ts
 * tooOpen(0o100644); // 'readable by group or others (mode 644); chmod 600 it'
 * ```
 */
export function tooOpen(mode: number): string | undefined {
  if ((mode & 0o077) === 0) return undefined;
  return `readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`;
}

/**
 * Reads a file that may hold secrets, refusing it when group or others can read it.
 *
 * @param path - the file
 * @param what - its role, for the message (`key file`, `config file`)
 * @returns the file's text
 * @throws {@link ConfigError} when it is missing, not a regular file or too open
 * @example
 * ```ts
 * const key = (await readSecretFile('/run/user/1000/tb/key', 'key file')).trim();
 * ```
 */
export async function readSecretFile(path: string, what: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new ConfigError(what, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!info.isFile()) throw new ConfigError(what, `${path} is not a regular file`);
  const open = tooOpen(info.mode);
  if (open !== undefined) throw new ConfigError(what, `${path} is ${open}`);
  return readFile(path, 'utf8');
}
