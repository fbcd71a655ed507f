/**
 * Least privilege: a caller never gets a token wider than it asked for and the provider allows. Every
 * check of that is here, one function per boundary it is checked at:
 *
 * - {@link requireAllowed}: the scopes asked, against the provider's allowed set (before any call);
 * - {@link requireAllowedAudience}: the audience asked, against the provider's allowed audiences;
 * - {@link requireGranted}: the scopes asked, against what the sign-in granted or the token carries
 *   (a grant cannot be widened by asking);
 * - {@link narrowedScopes} and {@link requireNarrowing}: whether a request asks fewer scopes than the
 *   sign-in's grant holds, and whether the provider's `narrowing` may answer it (a narrowed token must
 *   never shrink what later requests can get);
 * - {@link requireNotWider} / {@link widerThanAsked}: what the IdP says it granted, against what was
 *   asked. When the IdP grants more, the broker refuses the token (502 `upstream_error`) rather than
 *   hand it out: narrowing it afterwards is not possible, and a second request could be widened just
 *   the same;
 * - {@link scopesLost}: what a grant's own (default) token no longer carries of what the grant records:
 *   the IdP reduced the grant, and the record must follow it.
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
 * The scopes of a request that asks fewer than the sign-in's grant holds. A request naming none, or
 * naming every scope of the grant, is the grant's own request: it needs no narrowing.
 *
 * @param asked - the scopes asked (already checked with {@link requireGranted}), or undefined
 * @param granted - the scopes the grant holds
 * @returns the scopes asked when they are fewer than the grant's, else undefined
 * @example
 * ```ts
 * narrowedScopes(['read'], ['openid', 'read']); // ['read']
 * narrowedScopes(['read', 'openid'], ['openid', 'read']); // undefined
 * ```
 */
export function narrowedScopes(
  asked: readonly string[] | undefined,
  granted: readonly string[]
): readonly string[] | undefined {
  if (asked === undefined || granted.every(s => asked.includes(s))) return undefined;
  return asked;
}

/**
 * Refuses a narrowed request when the provider's `narrowing` is `refuse`: no narrowing method is
 * known to leave that IdP's grant whole, and a wider token is never handed out instead.
 *
 * @param provider - the provider's config
 * @param narrowed - the scopes of a narrowed request ({@link narrowedScopes}), or undefined
 * @param granted - the scopes the grant holds, named in the message
 * @throws {@link ScopeNotAllowed} naming what the caller can ask and what an admin can set
 * @example
 * ```ts
 * requireNarrowing(provider.config, undefined, grant.scopes); // the grant's own token: fine
 * ```
 */
export function requireNarrowing(
  provider: ProviderConfig,
  narrowed: readonly string[] | undefined,
  granted: readonly string[]
): void {
  if (narrowed === undefined || provider.narrowing !== 'refuse') return;
  throw new ScopeNotAllowed(
    `Provider '${provider.id}' hands out no token narrower than its sign-in (${quoted(granted)}): ` +
      'ask without scopes for that token. An admin can set the provider\'s "narrowing" to "refresh" ' +
      '(an IdP that keeps a refresh token\'s scope, RFC 6749 §6) or "exchange" (RFC 8693 token exchange).'
  );
}

/**
 * The refusal of a token whose granted scopes reach beyond what was asked, if they do; for a caller
 * that must store something first (a rotated refresh token) and throw after.
 *
 * @param provider - provider id, for the message
 * @param asked - the scopes asked (with the provider's implied scopes)
 * @param granted - the scopes the IdP says it granted
 * @returns the {@link UpstreamError} to throw, or undefined when the token is not wider
 * @example
 * ```ts
 * widerThanAsked('kc', ['read'], ['read', 'write']); // UpstreamError naming write
 * ```
 */
export function widerThanAsked(
  provider: string,
  asked: readonly string[],
  granted: readonly string[]
): UpstreamError | undefined {
  const extra = granted.filter(s => !asked.includes(s));
  if (extra.length === 0) return undefined;
  return new UpstreamError(
    `Provider '${provider}' granted more than was asked (${extra.join(', ')}); the token was not handed out.`
  );
}

/**
 * What a grant records that its own token, just got from the IdP, does not carry. A non-empty answer
 * means the IdP reduced the grant (e.g. Django OAuth Toolkit after a narrowed refresh): the grant's
 * record must shrink to match, or the panel and {@link requireGranted} would promise scopes the IdP no
 * longer gives.
 *
 * @param recorded - the scopes the grant records
 * @param carried - the scopes of the token the IdP gave for a request of the grant's own scopes
 * @returns the recorded scopes the token lacks, in the record's order
 * @example
 * ```ts
 * scopesLost(['openid', 'read', 'email'], ['openid', 'read']); // ['email']
 * ```
 */
export function scopesLost(recorded: readonly string[], carried: readonly string[]): string[] {
  return recorded.filter(s => !carried.includes(s));
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
  const refused = widerThanAsked(provider, asked, granted);
  if (refused !== undefined) throw refused;
}
