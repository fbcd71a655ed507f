/**
 * Least privilege: a caller never gets a token wider than it asked for and the provider allows. Every
 * check of that is here, one function per boundary it is checked at:
 *
 * - {@link requireAllowed}: the scopes asked, against the provider's allowed set (before any call);
 * - {@link requireAllowedAudience}: the audience asked, against the provider's allowed audiences;
 * - {@link requireGranted}: the scopes asked, against what the sign-in granted or the token carries
 *   (a grant cannot be widened by asking);
 * - {@link requireNotWider}: what the IdP says it granted, against what was asked. When the IdP grants
 *   more, the broker refuses the token (502 `upstream_error`) rather than hand it out: narrowing it
 *   afterwards is not possible, and a second request could be widened just the same.
 */
import type { ProviderConfig } from './providers/providerConfig.js';
import { ScopeNotAllowed, UpstreamError } from './errors.js';

/** Quoted and comma-separated, for messages. */
function quoted(scopes: readonly string[]): string {
  return scopes.map(s => `'${s}'`).join(', ');
}

/**
 * Refuses scopes outside the provider's allowed set. A `hub` provider has no configured set: what
 * its token carries is only known from the hub's answer, where {@link requireGranted} checks it.
 *
 * @param provider - the provider's config
 * @param scopes - the scopes asked
 * @throws {@link ScopeNotAllowed} naming the scopes that are not allowed
 * @example
 * ```ts
 * requireAllowed(provider.config, ['read']);
 * ```
 */
export function requireAllowed(provider: ProviderConfig, scopes: readonly string[]): void {
  if (provider.kind === 'hub') return;
  const outside = scopes.filter(s => !provider.scopes.includes(s));
  if (outside.length > 0) {
    throw new ScopeNotAllowed(`Provider '${provider.id}' does not allow ${quoted(outside)}.`);
  }
}

/**
 * Checks a caller's `audience` against the provider's allowed audiences.
 *
 * @param provider - provider id
 * @param allowed - the configured `audiences`
 * @param audience - what the caller asked, or undefined
 * @throws {@link ScopeNotAllowed} when the audience is not allowed
 * @example
 * ```ts
 * requireAllowedAudience('svc', ['api'], 'api'); // fine
 * ```
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

/**
 * Refuses scopes the caller asked that a sign-in did not grant or a token does not carry: asking
 * never widens a grant.
 *
 * @param provider - provider id
 * @param asked - the scopes asked, or undefined for the default set (always granted)
 * @param held - what the sign-in granted (`grant`) or the hub login's token carries (`token`)
 * @throws {@link ScopeNotAllowed} naming the missing scopes and what to do
 * @example
 * ```ts
 * requireGranted('demo', ['read'], { grant: ['openid', 'read'] }); // fine
 * ```
 */
export function requireGranted(
  provider: string,
  asked: readonly string[] | undefined,
  held: { readonly grant: readonly string[] } | { readonly token: readonly string[] }
): void {
  if (asked === undefined) return;
  const scopes = 'grant' in held ? held.grant : held.token;
  const missing = asked.filter(s => !scopes.includes(s));
  if (missing.length === 0) return;
  throw new ScopeNotAllowed(
    'grant' in held
      ? `The sign-in to '${provider}' did not grant ${missing.join(', ')}; sign in again asking for them.`
      : `The JupyterHub login's token for '${provider}' does not carry ${quoted(missing)}.`
  );
}

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
