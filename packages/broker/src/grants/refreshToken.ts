/**
 * The `authorization_code` grant: the user's sign-in (browser or device flow), kept in the store as
 * a refresh token and refreshed for new access tokens.
 *
 * Invariants:
 * - refreshes of one grant never overlap, in this broker ({@link KeyedMutex}) nor across brokers
 *   sharing a durable store (the store's lock, held from reading the refresh token to storing the
 *   rotated one), because each may rotate the refresh token;
 * - a rotated refresh token is stored before anyone gets the new access token, and the access token
 *   is stored with it ({@link Grant.lastToken}), so a broker that waited for the lock uses it instead
 *   of spending the rotated-away refresh token;
 * - `invalid_grant` re-reads the store once (a rotation may have won elsewhere), then ends the grant;
 * - an upstream outage or an unusable answer (a 5xx, HTML, broken JSON) keeps the grant and backs
 *   off (2, 4, 8, … 60 s): callers meanwhile get 503 without an IdP call;
 * - a caller waits at most `upstream_timeout_ms` (then 503), but a refresh request that was sent goes
 *   on (up to `refreshLimitMs`) holding both locks, and its rotated refresh token is stored: a slow
 *   IdP's rotation is never lost, and no other refresh spends the rotated-away token meanwhile;
 * - a sign-in or sign-out during a refresh wins: the refresh's access token is never handed out,
 *   but a refresh token it rotated is stored, so the sign-in or sign-out waiting for the grant's
 *   lock takes (and revokes upstream) the refresh token that is live, never the one rotated away;
 * - a sign-out takes the grant under that lock ({@link RefreshTokenGrant.takeGrant}), a sign-in
 *   replaces it under it and hands back the grant it replaced.
 */
import { type AccessToken, accessTokenOf, scopeKey, shouldRefresh } from '../accessToken.js';
import { InvalidRequest, LoginRequired, UpstreamError, UpstreamUnavailable } from '../errors.js';
import { stopwatch } from '../events.js';
import {
  narrowedScopes,
  requireGranted,
  requireNarrowing,
  scopesLost,
  widerThanAsked
} from '../leastPrivilege.js';
import { GrantRejected, type OidcProvider, type TokenSet } from '../providers/oidc.js';
import type { Provider } from '../providers/registry.js';
import { KeyedMutex } from '../stores/keyedMutex.js';
import type { Grant, SharedToken } from '../stores/tokenStore.js';
import {
  type GrantHandler,
  type GrantRequest,
  type GrantServices,
  type GrantStatus,
  oidcProvider,
  reportFailed,
  reportFetched
} from './grantHandler.js';

/** The cache key of the grant's own token (its scopes, no narrowing). */
const OWN_KEY = scopeKey(undefined);

/**
 * Seconds to wait after `failures` consecutive upstream failures.
 *
 * @param failures - consecutive failures, at least 1
 * @returns 2, 4, 8, … capped at 60
 * @example
 * ```ts
 * backoffSeconds(3); // 8
 * ```
 */
export function backoffSeconds(failures: number): number {
  return Math.min(60, 2 ** Math.max(1, failures));
}

/**
 * The sign-ins' grants: refreshed for tokens, stored at sign-in, forgotten at sign-out.
 *
 * @example
 * ```ts
 * const signIns = new RefreshTokenGrant(services);
 * await signIns.signedIn('demo', tokenSet, 'alice', 'sub-1');
 * ```
 */
export class RefreshTokenGrant implements GrantHandler {
  readonly upstream = 'refresh_token' as const;
  readonly issuer = 'identity provider' as const;
  readonly asksMinTtl = false;
  /** Refreshes of one grant in this broker, one after another. */
  private readonly refreshing = new KeyedMutex();
  /** Bumped by sign-in and sign-out so an older refresh can never write its grant back. */
  private readonly generations = new Map<string, number>();
  private readonly backoff = new Map<string, { until: number; failures: number }>();
  /** Refreshes under way, answered or not: a stopping broker lets them store their rotation. */
  private readonly underWay = new Set<Promise<void>>();

  constructor(private readonly services: GrantServices) {}

  /** @throws {@link InvalidRequest} for an audience; {@link LoginRequired}; {@link ScopeNotAllowed} */
  async keyOf(provider: Provider, request: GrantRequest): Promise<string> {
    if (request.audience !== undefined) {
      throw new InvalidRequest(
        `Provider '${provider.id}' signs users in; ask an audience of a token exchange or client credentials provider.`
      );
    }
    const grant = await this.services.store.get(provider.id);
    if (grant === undefined) throw new LoginRequired(provider.id);
    requireGranted(provider.id, request.scopes, { grant: grant.scopes });
    // Asking every scope of the grant is asking its own token; fewer is a narrowed token, which the
    // provider's `narrowing` may refuse.
    const narrowed = narrowedScopes(request.scopes, grant.scopes);
    requireNarrowing(provider.config, narrowed, grant.scopes);
    return scopeKey(narrowed);
  }

  /**
   * A new token of the grant, answered within `upstream_timeout_ms`: the refresh itself runs under
   * the grant's locks to its end, answered or not (see {@link RefreshTokenGrant.withinDeadline}).
   *
   * @throws {@link UpstreamUnavailable} at the deadline, or for an outage or unusable answer
   * @throws {@link LoginRequired} when the IdP ended the grant
   */
  fetch(provider: Provider, key: string, request: GrantRequest): Promise<AccessToken> {
    const oidc = oidcProvider(provider);
    if (key !== OWN_KEY && provider.config.narrowing === 'exchange') {
      return this.exchanged(oidc, key, request);
    }
    const caller = { waiting: true };
    const locked = this.refreshing.run(provider.id, () =>
      this.withStoreLock(provider.id, () =>
        // A caller that gave up before the locks were free starts no IdP call of its own.
        caller.waiting ? this.refresh(oidc, key, request) : Promise.reject(GAVE_UP)
      )
    );
    const settled = locked.then(
      () => undefined,
      () => undefined
    );
    this.underWay.add(settled);
    void settled.then(() => this.underWay.delete(settled));
    return this.withinDeadline(oidc, locked, caller);
  }

  /**
   * Waits for every refresh under way (including those whose callers got their 503 at the
   * deadline) to store its result or fail: a broker that stops meanwhile keeps a slow IdP's rotation.
   *
   * @returns once none is under way
   */
  async settled(): Promise<void> {
    while (this.underWay.size > 0) await Promise.all([...this.underWay]);
  }

  /**
   * How many refreshes are under way, answered or not (see {@link RefreshTokenGrant.settled}).
   *
   * @returns their number; 0 when a stopping broker would lose no rotation
   */
  underWayCount(): number {
    return this.underWay.size;
  }

  /**
   * Answers the caller by `upstream_timeout_ms` while `locked` (the refresh, holding the in-process
   * and the store lock) goes on: a refresh request the IdP got may rotate the refresh token, so its
   * late answer is still stored before the locks are released, and no other refresh can spend the
   * old refresh token meanwhile (an IdP with reuse detection would end the sign-in).
   */
  private withinDeadline(
    provider: OidcProvider,
    locked: Promise<AccessToken>,
    caller: { waiting: boolean }
  ): Promise<AccessToken> {
    return new Promise<AccessToken>((resolve, reject) => {
      const timer = setTimeout(() => {
        caller.waiting = false;
        reject(
          new UpstreamUnavailable(
            `The identity provider did not answer within ${provider.timeoutMs} ms; the refresh ` +
              'goes on and its result is kept for the next request (if the identity provider is ' +
              'only slow, raise upstream_timeout_ms).',
            { retryAfter: backoffSeconds(1) }
          )
        );
      }, provider.timeoutMs);
      timer.unref();
      locked.then(
        token => {
          clearTimeout(timer);
          resolve(token);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        }
      );
    });
  }

  /**
   * Runs `task` holding the store's lock of the grant, which other broker processes sharing a
   * durable store also take: their refreshes of this grant never overlap with ours.
   */
  private withStoreLock<T>(provider: string, task: () => Promise<T>): Promise<T> {
    return this.services.store.withLock(provider, task);
  }

  private async refresh(
    provider: OidcProvider,
    key: string,
    request: GrantRequest
  ): Promise<AccessToken> {
    const { cache, marginSeconds, defaultMinTtl } = this.services;
    const { minTtl } = request;
    // `scope` is sent only for a narrowed token (narrowing `refresh`), never for the grant's own.
    const scopes = key === OWN_KEY ? undefined : request.scopes;
    const now = (): number => this.services.now();
    // A refresh that finished while this one waited for the lock may already have done the work.
    const cached = cache.get(provider.id, key);
    if (
      cached?.accessToken !== request.rejected &&
      !shouldRefresh(cached, now(), minTtl, marginSeconds, defaultMinTtl)
    ) {
      return cached as AccessToken;
    }

    const backoff = this.backoff.get(provider.id);
    if (backoff !== undefined && backoff.until > now()) {
      throw new UpstreamUnavailable(`'${provider.id}' is backing off after upstream failures.`, {
        retryAfter: backoff.until - now(),
        repeat: true
      });
    }

    const generation = this.generations.get(provider.id) ?? 0;
    let grant = await this.services.store.get(provider.id);
    if (grant === undefined) throw new LoginRequired(provider.id);
    // Another broker sharing the store may have refreshed (and rotated) this grant while we waited
    // for its lock: use the token it stored instead of a second upstream call.
    const shared = grant.lastToken;
    if (
      shared != null &&
      shared.scopeKey === key &&
      shared.accessToken !== request.rejected &&
      !shouldRefresh(shared, now(), minTtl, marginSeconds, defaultMinTtl)
    ) {
      const token = accessTokenOf({
        ...shared,
        lifetime: shared.lifetime ?? shared.expiresAt - now()
      });
      cache.set(provider.id, key, token);
      return token;
    }
    const { events } = this.services;
    let tokens: TokenSet;
    /** The refusal of an answer wider than asked, thrown once its rotation is stored. */
    let refused: UpstreamError | undefined;
    /** What the grant records that its own token no longer carries: the IdP reduced the grant. */
    let lost: string[] = [];
    for (let attempt = 0; ; attempt++) {
      if (grant.refreshToken === null) {
        throw new LoginRequired(
          provider.id,
          'issued no refresh token and the access token expired'
        );
      }
      const elapsed = stopwatch();
      const report = { provider: provider.id, grant: this.upstream, scopes: scopes ?? null };
      try {
        tokens = await provider.refresh(grant.refreshToken, scopes, grant.scopes);
      } catch (err) {
        const seconds = elapsed();
        if (!(err instanceof GrantRejected)) {
          const retryAfter = upstreamFailed(err) ? this.noteFailure(provider.id, err) : undefined;
          reportFailed(events, { ...report, error: err, seconds, retryAfter });
          throw err;
        }
        // A rotation may have been stored by someone else since we read the grant.
        const again = await this.services.store.get(provider.id);
        if (
          attempt === 0 &&
          again?.refreshToken != null &&
          again.refreshToken !== grant.refreshToken
        ) {
          reportFailed(events, { ...report, error: err, seconds });
          grant = again;
          continue;
        }
        if (again?.refreshToken === grant.refreshToken) await this.endGrant(provider.id);
        reportFailed(events, { ...report, error: err, seconds, grantEnded: 'invalid_grant' });
        throw err;
      }
      const asked = [...(scopes ?? grant.scopes), ...provider.config.implied_scopes];
      refused = widerThanAsked(provider.id, asked, tokens.scopes);
      if (refused !== undefined) {
        reportFailed(events, { ...report, error: refused, seconds: elapsed() });
        break;
      }
      if (scopes === undefined) lost = scopesLost(grant.scopes, tokens.scopes);
      reportFetched(events, {
        ...report,
        token: tokens,
        seconds: elapsed(),
        rotated: tokens.refreshToken !== grant.refreshToken,
        reduced: lost
      });
      break;
    }
    const rotated = tokens.refreshToken !== grant.refreshToken;
    this.backoff.delete(provider.id);
    if ((this.generations.get(provider.id) ?? 0) !== generation) {
      // A sign-in or sign-out started meanwhile and waits for this lock to take the grant: what it
      // takes (and revokes upstream) must be the refresh token that is live, not the rotated-away one.
      if (rotated) {
        await this.services.store.put({
          ...grant,
          refreshToken: tokens.refreshToken,
          updatedAt: now(),
          lastToken: null
        });
      }
      throw new LoginRequired(provider.id, 'was signed out during the refresh');
    }
    if (refused !== undefined) {
      // The token is not handed out, but a rotated refresh token is the only live one.
      if (rotated) {
        await this.services.store.put({
          ...grant,
          refreshToken: tokens.refreshToken,
          updatedAt: now()
        });
      }
      throw refused;
    }
    const token = accessTokenOf(tokens);
    await this.services.store.put({
      ...grant,
      refreshToken: tokens.refreshToken,
      // The record follows what the IdP now gives: the panel and later requests see the real grant.
      scopes: lost.length === 0 ? grant.scopes : grant.scopes.filter(s => !lost.includes(s)),
      updatedAt: rotated ? now() : grant.updatedAt,
      lastToken: shareable(key, token)
    });
    cache.set(provider.id, key, token);
    return token;
  }

  /**
   * A narrowed token by RFC 8693 token exchange of the grant's own access token (narrowing
   * `exchange`), at the same token endpoint: the refresh token is only ever refreshed for the grant's
   * own scopes, so no IdP can bind it to the narrowed ones. No lock is held: nothing is rotated.
   *
   * @throws {@link LoginRequired} when a sign-in or sign-out happened meanwhile
   */
  private async exchanged(
    provider: OidcProvider,
    key: string,
    request: GrantRequest
  ): Promise<AccessToken> {
    const { events, cache } = this.services;
    const scopes = request.scopes ?? [];
    const generation = this.generations.get(provider.id) ?? 0;
    const subject = await this.services.token(provider, {
      scopes: undefined,
      minTtl: request.minTtl,
      audience: undefined
    });
    const report = { provider: provider.id, grant: 'token_exchange' as const, scopes };
    const elapsed = stopwatch();
    let tokens: TokenSet;
    try {
      tokens = await provider.exchangeToken(subject.accessToken, scopes, undefined);
    } catch (err) {
      reportFailed(events, { ...report, error: err, seconds: elapsed() });
      // The IdP's refusal is an admin's to fix in this provider's narrowing, not a sign-in matter.
      throw err instanceof UpstreamError
        ? new UpstreamError(
            `Provider '${provider.id}' could not narrow the token by token exchange: ` +
              `${err.message.replace(/\.$/, '')}. An admin can set its "narrowing" to "refuse", or to ` +
              '"refresh" if the IdP keeps a refresh token\'s scope.',
            { cause: err }
          )
        : err;
    }
    reportFetched(events, { ...report, token: tokens, seconds: elapsed() });
    if ((this.generations.get(provider.id) ?? 0) !== generation) {
      throw new LoginRequired(provider.id, 'was signed out during the token exchange');
    }
    const token = accessTokenOf(tokens);
    cache.set(provider.id, key, token);
    return token;
  }

  /** Starts or lengthens the backoff; returns its seconds. */
  private noteFailure(provider: string, err: UpstreamUnavailable | UpstreamError): number {
    const failures = (this.backoff.get(provider)?.failures ?? 0) + 1;
    const wait = Math.max(backoffSeconds(failures), err.retryAfter ?? 0);
    this.backoff.set(provider, { until: this.services.now() + wait, failures });
    return wait;
  }

  /**
   * Records a completed sign-in: stores the grant and caches its access token.
   *
   * @param provider - provider id
   * @param tokens - the code exchange's tokens
   * @param account - account label
   * @param subject - `sub` claim
   * @returns the grant the sign-in replaced (as it was under the lock, rotations included), or
   *   undefined; its refresh token is still live upstream
   */
  async signedIn(
    provider: string,
    tokens: TokenSet,
    account: string | null,
    subject: string | null
  ): Promise<Grant | undefined> {
    const { cache } = this.services;
    this.bump(provider);
    this.backoff.delete(provider);
    cache.forget(provider);
    const now = this.services.now();
    const token = accessTokenOf(tokens);
    const { sid, auth_time: authTime } = tokens.claims ?? {};
    // Under the grant's lock: a refresh of the old grant (here or in another broker) has stored
    // its rotation before, and cannot overwrite the new grant after.
    const replaced = await this.withStoreLock(provider, async () => {
      const previous = await this.services.store.get(provider);
      await this.services.store.put({
        provider,
        refreshToken: tokens.refreshToken,
        scopes: tokens.scopes,
        account,
        subject,
        ...(typeof sid === 'string' ? { session: sid } : {}),
        ...(typeof authTime === 'number' && Number.isFinite(authTime) ? { authTime } : {}),
        createdAt: now,
        updatedAt: now,
        lastToken: shareable(scopeKey(undefined), token)
      });
      return previous;
    });
    cache.set(provider, scopeKey(undefined), token);
    return replaced;
  }

  /**
   * Forgets a provider's grant and every cached token; nothing happens when there is none.
   *
   * @param provider - provider id
   */
  async signOut(provider: string): Promise<void> {
    await this.takeGrant(provider);
  }

  /**
   * Takes a provider's grant out of the store under the grant's lock, the lock every refresh holds
   * from reading the refresh token to storing the rotated one (here and in other brokers sharing
   * the store): the grant handed back holds the refresh token that is live upstream, never one a
   * refresh in flight is rotating away. Forgets it and every cached token.
   *
   * @param provider - provider id
   * @param release - when given, called under the lock with the grant before it is forgotten;
   *   resolving false keeps the grant and the cached tokens (an admin's revocation the IdP did not
   *   take). Without it, nothing is handed out from the moment of the call.
   * @returns the grant as it was, or undefined when there was none
   * @throws `StoreUnavailable` when the grant cannot be read or deleted
   */
  async takeGrant(
    provider: string,
    release?: (grant: Grant) => Promise<boolean>
  ): Promise<Grant | undefined> {
    if (release === undefined) {
      // Forget locally at once: a refresh running here can no longer hand out its token.
      this.bump(provider);
      this.services.cache.forget(provider);
    }
    let kept = false;
    const grant = await this.withStoreLock(provider, async () => {
      const held = await this.services.store.get(provider);
      if (held !== undefined && release !== undefined && !(await release(held))) {
        kept = true;
        return held;
      }
      await this.endGrant(provider);
      return held;
    });
    if (!kept) this.backoff.delete(provider);
    return grant;
  }

  /**
   * What the provider list shows of a sign-in.
   *
   * @param provider - the provider
   * @returns sign-in state without token material
   */
  async status(provider: Provider): Promise<GrantStatus> {
    const grant = await this.services.store.get(provider.id);
    const token = this.services.cache.get(provider.id, scopeKey(undefined));
    const live = token !== undefined && token.expiresAt > this.services.now() ? token : undefined;
    if (grant === undefined) {
      return { signedIn: false, account: null, scopes: null, expiresAt: null, needsLogin: true };
    }
    return {
      signedIn: true,
      account: grant.account,
      scopes: grant.scopes,
      expiresAt: live?.expiresAt ?? null,
      needsLogin: grant.refreshToken === null && live === undefined
    };
  }

  private bump(provider: string): void {
    this.generations.set(provider, (this.generations.get(provider) ?? 0) + 1);
  }

  private async endGrant(provider: string): Promise<void> {
    this.bump(provider);
    this.services.cache.forget(provider);
    await this.services.store.delete(provider);
  }
}

/** What other brokers on the store see of a token. */
function shareable(key: string, token: AccessToken): SharedToken {
  const { accessToken, tokenType, expiresAt, scopes, lifetime } = token;
  return { scopeKey: key, accessToken, tokenType, expiresAt, scopes, lifetime };
}

/** Why a refresh task ended without an answer: its caller had given up before the locks were free. */
const GAVE_UP = new UpstreamUnavailable('The caller stopped waiting before the refresh started.');

/**
 * Whether a refresh failed at the IdP's end (down, slow, a 5xx, or an answer that is not a token
 * response: HTML from a gateway, broken JSON): each backs off, so callers do not all call a failing
 * IdP again. A refusal of the request itself (`invalid_scope`) does not.
 */
function upstreamFailed(err: unknown): err is UpstreamUnavailable | UpstreamError {
  return err instanceof UpstreamUnavailable || err instanceof UpstreamError;
}
