/**
 * Least privilege: a caller never gets a token wider than it asked for and the provider allows.
 *
 * The broker checks the `scope` the IdP says it granted. When the IdP grants more than was asked,
 * the broker refuses the token (502 `upstream_error`) rather than hand it out: narrowing it
 * afterwards is not possible, and a second request could be widened just the same.
 */
import { ScopeNotAllowed, UpstreamError } from '../errors.js';

/**
 * Refuses a token whose granted scopes reach beyond what was asked.
 *
 * @param provider - provider id, for the message
 * @param asked - the scopes asked
 * @param granted - the scopes the IdP says it granted
 * @throws {@link UpstreamError} naming the extra scopes
 * @example
 * ```ts
 * requireNotWider('kc', ['read'], ['read']); // fine
 * ```
 */
export function requireNotWider(
  provider: string,
  asked: readonly string[],
  granted: readonly string[]
): void {
  const extra = granted.filter(s => !asked.includes(s));
  if (extra.length > 0) {
    throw new UpstreamError(
      `Provider '${provider}' granted more than was asked (${extra.join(', ')}); the token was not handed out.`
    );
  }
}

/**
 * Checks a caller's `audience` against the provider's allowed audiences.
 *
 * @param provider - provider id
 * @param allowed - the configured `audiences`
 * @param audience - what the caller asked, or undefined
 * @throws {@link ScopeNotAllowed} when the audience is not allowed
 */
export function requireAllowedAudience(
  provider: string,
  allowed: readonly string[],
  audience: string | undefined
): void {
  if (audience !== undefined && !allowed.includes(audience)) {
    throw new ScopeNotAllowed(`Provider '${provider}' does not allow audience '${audience}'.`);
  }
}
