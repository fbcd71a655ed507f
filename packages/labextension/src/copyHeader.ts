/**
 * Copying an `Authorization: Bearer …` header to the clipboard. The token is fetched for the copy
 * and goes nowhere but the clipboard: not the DOM, not the console, not any storage.
 */
import { TokenBrokerError } from './errors';
import { formatDuration, secondsLeft } from './expiry';
import type { ITokenBrokerClient } from './tokens';

/**
 * Writes text to the system clipboard; a seam for tests.
 */
export type ClipboardWriter = (text: string) => Promise<void>;

/**
 * Seams and choices of {@link copyAuthorizationHeader}.
 */
export interface ICopyHeaderOptions {
  /** The clipboard writer, e.g. `writeSystemClipboard` from `./clipboard`. */
  readonly clipboard: ClipboardWriter;
  /** The scopes of the token; empty or omitted for the provider's default token. */
  readonly scopes?: ReadonlyArray<string>;
  /** The clock, in ms since the epoch; `Date.now` by default. */
  readonly now?: () => number;
}

/**
 * Fetches a fresh token for `providerId` and copies `Authorization: Bearer <token>`.
 *
 * @param tokens - the token broker client the copy is made for.
 * @param providerId - the provider id.
 * @param options - the clipboard writer, scopes and the clock.
 * @returns the seconds the copied token has left.
 * @throws {TokenBrokerError} `login_required` when no one is signed in, or the broker's error.
 *
 * @example
 * ```ts
 * const expiresIn = await copyAuthorizationHeader(broker.forClient('jupyterlab'), 'demo', {
 *   clipboard: writeSystemClipboard
 * });
 * Notification.success(copiedMessage('Demo IdP', expiresIn));
 * ```
 */
export async function copyAuthorizationHeader(
  tokens: ITokenBrokerClient,
  providerId: string,
  options: ICopyHeaderOptions
): Promise<number> {
  const session = await tokens.getSession(providerId, options.scopes ?? [], { silent: true });
  if (!session) {
    throw new TokenBrokerError('login_required', 'Sign in first, then copy the header.');
  }
  await options.clipboard(`Authorization: Bearer ${session.accessToken}`);
  return secondsLeft(session.expiresAt, (options.now ?? Date.now)());
}

/**
 * The notification text after a copy: that it is a secret, and when it expires. It never contains
 * the token.
 *
 * @param title - the provider title.
 * @param expiresIn - seconds the token has left.
 * @returns e.g. `Copied a secret Authorization header for Demo IdP; it expires in 57 s. …`.
 *
 * @example
 * ```ts
 * copiedMessage('Demo IdP', 300); // 'Copied a secret … it expires in 5 min. …'
 * ```
 */
export function copiedMessage(title: string, expiresIn: number): string {
  return (
    `Copied a secret Authorization header for ${title}; it expires in ${formatDuration(expiresIn)}. ` +
    'Treat it like a password.'
  );
}
