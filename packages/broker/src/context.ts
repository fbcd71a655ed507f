/**
 * What the routes share: the config and the long-lived services built from it. Built once by
 * {@link createContext}; tests pass their own seams (clock, fetch, store, log sink).
 */
import { type Clock, systemClock } from './clock.js';
import type { BrokerConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { LoginStates } from './loginState.js';
import { ProviderRegistry } from './providers/registry.js';
import { Tokens } from './refresh.js';
import { createStore } from './stores/index.js';
import type { TokenStore } from './stores/tokenStore.js';
import { TokenCache } from './tokenCache.js';

/** Services the routes use. */
export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly providers: ProviderRegistry;
  readonly tokens: Tokens;
  readonly logins: LoginStates;
  readonly store: TokenStore;
  readonly log: Logger;
  readonly clock: Clock;
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
  return {
    config,
    clock,
    log,
    store,
    providers: new ProviderRegistry(config.providers, {
      timeoutMs: config.upstream_timeout_ms,
      fetch: seams.fetch,
      now: clock,
      log
    }),
    tokens: new Tokens({
      store,
      cache: new TokenCache(),
      clock,
      log,
      marginSeconds: config.refresh_margin_seconds
    }),
    logins: new LoginStates(config.login_state_ttl_seconds, () => Math.floor(clock() / 1000))
  };
}
