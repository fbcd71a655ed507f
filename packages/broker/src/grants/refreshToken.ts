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
 * - an upstream outage keeps the grant and backs off (2, 4, 8, … 60 s);
 * - a sign-in or sign-out during a refresh wins: the refresh's access token is never handed out,
 *   but a refresh token it rotated is stored, so the sign-in or sign-out waiting for the grant's
 *   lock takes (and revokes upstream) the refresh token that is live, never the one rotated away;
 * - a sign-out takes the grant under that lock ({@link RefreshTokenGrant.takeGrant}), a sign-in
 *   replaces it under it and hands back the grant it replaced.
 */
import { type AccessToken, accessTokenOf, scopeKey, shouldRefresh } from '../accessToken.js';
import { InvalidRequest, LoginRequired, UpstreamUnavailable } from '../errors.js';
import { stopwatch } from '../events.js';
import { requireGranted } from '../leastPrivilege.js';
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
    return scopeKey(request.scopes);
  }

  fetch(provider: Provider, key: string, request: GrantRequest): Promise<AccessToken> {
    const oidc = oidcProvider(provider);
    return this.refreshing.run(provider.id, () =>
      this.withStoreLock(provider.id, () => this.refresh(oidc, key, request))
    );
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
    const { cache, marginSeconds } = this.services;
    const { scopes, minTtl } = request;
    const now = (): number => this.services.now();
    // A refresh that finished while this one waited for the lock may already have done the work.
    const cached = cache.get(provider.id, key);
    if (!shouldRefresh(cached, now(), minTtl, marginSeconds)) return cached as AccessToken;

    const backoff = this.backoff.get(provider.id);
    if (backoff !== undefined && backoff.until > now()) {
      throw new UpstreamUnavailable(`'${provider.id}' is backing off after upstream failures.`, {
        retryAfter: backoff.until - now()
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
      !shouldRefresh(shared, now(), minTtl, marginSeconds)
    ) {
      const token = accessTokenOf({ ...shared, lifetime: shared.expiresAt - now() });
      cache.set(provider.id, key, token);
      return token;
    }
    const { events } = this.services;
    let tokens: TokenSet;
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
          const retryAfter =
            err instanceof UpstreamUnavailable ? this.noteFailure(provider.id, err) : undefined;
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
      reportFetched(events, {
        ...report,
        token: tokens,
        seconds: elapsed(),
        rotated: tokens.refreshToken !== grant.refreshToken
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
    const token = accessTokenOf(tokens);
    await this.services.store.put({
      ...grant,
      refreshToken: tokens.refreshToken,
      updatedAt: rotated ? now() : grant.updatedAt,
      lastToken: shareable(key, token)
    });
    cache.set(provider.id, key, token);
    return token;
  }

  /** Starts or lengthens the backoff; returns its seconds. */
  private noteFailure(provider: string, err: UpstreamUnavailable): number {
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
    const sid = tokens.claims?.sid;
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

/** What other brokers on the store see of a token: its lifetime is this broker's own reading. */
function shareable(key: string, token: AccessToken): SharedToken {
  const { accessToken, tokenType, expiresAt, scopes } = token;
  return { scopeKey: key, accessToken, tokenType, expiresAt, scopes };
}
