/**
 * What the routes share: the config and the long-lived services built from it. Built once by
 * {@link createContext}; tests pass their own seams (clock, fetch, store, log sink).
 */
import { AuditTrail, auditRecorder } from './audit.js';
import { type Clock, systemClock } from './clock.js';
import type { BrokerConfig } from './config.js';
import { Consents } from './consents.js';
import { brokerEvents, type BrokerEvents } from './events.js';
import { DeviceLogins } from './grants/deviceFlow.js';
import { createLogger, eventLogger, type Logger } from './log.js';
import { LoginStates } from './loginState.js';
import { Metrics } from './metrics.js';
import { ProviderRegistry } from './providers/registry.js';
import { recordsOf } from './stores/records.js';
import { Revocations } from './revocation.js';
import { BrowserSignIns } from './signIn.js';
import { createStore } from './stores/index.js';
import type { TokenStore } from './stores/tokenStore.js';
import { TokenCache } from './tokenCache.js';
import { TokenRequests } from './tokenRequests.js';
import { TokenService } from './tokens/service.js';

/** Services the routes use. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly providers: ProviderRegistry;
  /** Access tokens of every provider, whatever its grant, and the sign-ins' grants. */
  readonly tokens: TokenService;
  /** Callers' token requests: checks, the token service, and their events. */
  readonly tokenRequests: TokenRequests;
  /** Device logins (RFC 8628) polling in the background. */
  readonly devices: DeviceLogins;
  readonly logins: LoginStates;
  /** Browser sign-ins (authorization code), started and completed. */
  readonly signIns: BrowserSignIns;
  readonly store: TokenStore;
  readonly log: Logger;
  readonly clock: Clock;
  /** The audit trail, as `GET /api/v1/events` reads it; events reach it through `events`. */
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  /** What the domain code reports to: the audit trail, the log and the metrics, subscribed once. */
  readonly events: BrokerEvents;
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
  // The one place the audit trail (awaited, fail-closed), the log and the metrics subscribe.
  const events = brokerEvents(auditRecorder(audit), [
    eventLogger(log),
    event => metrics.count(event)
  ]);
  const records = recordsOf(store);
  const providers = new ProviderRegistry(config.providers, {
    timeoutMs: config.upstream_timeout_ms,
    fetch: seams.fetch,
    now: clock,
    log,
    clockToleranceSeconds: config.clock_tolerance_seconds
  });
  const logins = new LoginStates(config.login_state_ttl_seconds, () => Math.floor(clock() / 1000));
  const tokens = new TokenService({
    providers,
    store,
    cache: new TokenCache(),
    events,
    clock,
    marginSeconds: config.refresh_margin_seconds,
    defaultMinTtl: config.default_min_ttl
  });
  const consents = new Consents({
    records,
    events,
    clock,
    sessionSeconds: config.consent_session_seconds
  });
  const revocations = new Revocations({
    store,
    records,
    tokens,
    lookup: id => providers.all().find(p => p.id === id),
    events,
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
    tokenRequests: new TokenRequests({ tokens, consents, events }),
    devices: new DeviceLogins({ tokens, revocations, events, clock, log }),
    logins,
    signIns: new BrowserSignIns({ logins, providers, tokens, events, log, revocations }),
    audit,
    metrics,
    events,
    consents,
    revocations
  };
}
