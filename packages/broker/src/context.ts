/**
 * What the routes share: the config and the long-lived services built from it. Built once by
 * {@link createContext}; tests pass their own seams (clock, fetch, store, log sink).
 */
import { AuditTrail } from './audit.js';
import { type Clock, systemClock } from './clock.js';
import type { BrokerConfig } from './config.js';
import { Consents } from './consents.js';
import { DeviceLogins } from './grants/deviceFlow.js';
import { HubTokens } from './grants/hub.js';
import { TokenIssuer } from './grants/issuer.js';
import { createLogger, type Logger } from './log.js';
import { LoginStates } from './loginState.js';
import { Metrics } from './metrics.js';
import { ProviderRegistry } from './providers/registry.js';
import { recordsOf } from './stores/records.js';
import { Tokens, type TokensObserver } from './refresh.js';
import { Revocations } from './revocation.js';
import { createStore } from './stores/index.js';
import type { TokenStore } from './stores/tokenStore.js';
import { TokenCache } from './tokenCache.js';

/** Services the routes use. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly providers: ProviderRegistry;
  readonly tokens: Tokens;
  /** Access tokens by grant type (sign-in, client credentials, token exchange). */
  readonly grants: TokenIssuer;
  /** Device logins (RFC 8628) polling in the background. */
  readonly devices: DeviceLogins;
  readonly logins: LoginStates;
  readonly store: TokenStore;
  readonly log: Logger;
  readonly clock: Clock;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  readonly consents: Consents;
  readonly revocations: Revocations;
}

/** Seams that can replace the real ones. */
export interface ContextSeams {
  readonly clock?: Clock;
  readonly fetch?: typeof fetch;
  readonly store?: TokenStore;
  readonly log?: Logger;
}

/**
 * Builds the services from a validated config. Makes no network call.
 *
 * @param config - validated configuration
 * @param seams - replacements for the clock, fetch, store or logger
 * @returns the context
 * @example
 * ```ts
 * const context = createContext(validateConfig({ providers: [] }));
 * ```
 */
export function createContext(config: BrokerConfig, seams: ContextSeams = {}): BrokerContext {
  const clock = seams.clock ?? systemClock;
  const log = seams.log ?? createLogger({ now: clock });
  const store = seams.store ?? createStore(config.store);
  const metrics = new Metrics();
  const audit = new AuditTrail({
    path: config.audit.path,
    maxBytes: config.audit.max_bytes,
    keep: config.audit.keep,
    clock,
    log
  });
  const records = recordsOf(store);
  const providers = new ProviderRegistry(config.providers, {
    timeoutMs: config.upstream_timeout_ms,
    fetch: seams.fetch,
    now: clock,
    log,
    clockToleranceSeconds: config.clock_tolerance_seconds
  });
  const cache = new TokenCache();
  const observer = observeTokens(audit, metrics);
  const tokens = new Tokens({
    store,
    cache,
    clock,
    log,
    marginSeconds: config.refresh_margin_seconds,
    observer
  });
  const revocations = new Revocations({
    store,
    records,
    tokens,
    lookup: id => providers.all().find(p => p.id === id),
    audit,
    metrics,
    clock,
    log
  });
  void revocations.resume();
  return {
    config,
    clock,
    log,
    store,
    providers,
    tokens,
    grants: new TokenIssuer({
      tokens,
      hub: new HubTokens({
        cache,
        clock,
        log,
        marginSeconds: config.refresh_margin_seconds,
        observer
      }),
      providers,
      store,
      cache,
      clock,
      log,
      marginSeconds: config.refresh_margin_seconds
    }),
    devices: new DeviceLogins({ tokens, clock, log }),
    logins: new LoginStates(config.login_state_ttl_seconds, () => Math.floor(clock() / 1000)),
    audit,
    metrics,
    consents: new Consents({ records, clock, sessionSeconds: config.consent_session_seconds }),
    revocations
  };
}

/** Refreshes and cache hits, into the audit trail (best effort: a refresh is not a user's call) and the metrics. */
function observeTokens(audit: AuditTrail, metrics: Metrics): TokensObserver {
  return {
    cacheHit: provider => metrics.cacheHits.inc({ provider }),
    refreshed: (provider, scopes, code) => {
      metrics.refreshes.inc({ provider, outcome: code === null ? 'ok' : code });
      audit.note({
        type: 'refresh',
        provider,
        client: null,
        scopes: scopes ?? null,
        outcome: code === null ? 'ok' : 'error',
        ...(code === null ? {} : { code })
      });
    },
    timeRefresh: (provider, call) => metrics.timeUpstream(provider, 'refresh', call)
  };
}
