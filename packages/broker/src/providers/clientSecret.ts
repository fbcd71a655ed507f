/**
 * A provider's client secret file (`client_secret_file`): read on every discovery, never cached
 * across a failure, so an admin who fixes the file (creates it, `chmod 600`) is heard on the next
 * request. Every problem with the file is a {@link Misconfigured} (`config_error`) naming the file, never
 * a network problem.
 */
import { readFile, stat } from 'node:fs/promises';

import { Misconfigured } from '../errors.js';
import { tooOpen } from '../secretFile.js';

/**
 * What is wrong with a secret file, or undefined when it can be used. Reads the file (to see it is
 * readable and not empty) but never returns or logs its contents.
 *
 * @param provider - the provider id, for the message
 * @param file - the configured path
 * @returns a message naming the provider, the path and the fix, or undefined
 * @example
 * ```ts
 * const problem = await clientSecretProblem('svc', '/etc/token-broker/svc-secret');
 * if (problem !== undefined) log.warn('provider_problem', { reason: problem });
 * ```
 */
export async function clientSecretProblem(
  provider: string,
  file: string
): Promise<string | undefined> {
  try {
    await readClientSecret(provider, file);
    return undefined;
  } catch (err) {
    if (err instanceof Misconfigured) return err.message;
    throw err;
  }
}

/**
 * Reads a provider's client secret.
 *
 * @param provider - the provider id, for messages
 * @param file - the configured path
 * @returns the secret, trimmed
 * @throws {@link Misconfigured} when the file is missing, unreadable, not a regular file, readable by
 *   group or others, or empty
 * @example
 * ```ts
 * const auth = ClientSecretBasic(await readClientSecret('svc', '/etc/token-broker/svc-secret'));
 * ```
 */
export async function readClientSecret(provider: string, file: string): Promise<string> {
  const what = `The client_secret_file of provider '${provider}' (${file})`;
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Misconfigured(`${what} is not a regular file.`);
    const open = tooOpen(info.mode);
    if (open !== undefined) throw new Misconfigured(`${what} is ${open}.`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof Misconfigured) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new Misconfigured(
      code === 'ENOENT'
        ? `${what} does not exist.`
        : `${what} cannot be read by the broker (${code ?? 'unknown error'}).`,
      { cause: err }
    );
  }
  const secret = text.trim();
  if (secret === '') throw new Misconfigured(`${what} is empty.`);
  return secret;
}
