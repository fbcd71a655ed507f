import { PROVIDER_ID, type ProviderConfig } from './providerConfig.js';
import { InvalidRequest, UnknownProvider } from '../errors.js';
import { HubProvider } from './hub.js';
import { OidcProvider, type UpstreamOptions } from './oidc.js';

/** A configured provider: an OAuth/OIDC one, or the user's JupyterHub login (kind `hub`). */
export type Provider = OidcProvider | HubProvider;

/**
 * The configured providers by id. Creating it makes no network call: each provider discovers its
 * IdP on first use.
 *
 * @example
 * ```ts
 * const providers = new ProviderRegistry(config.providers, { timeoutMs: 10000, now: Date.now, log });
 * const demo = providers.lookup('demo');
 * ```
 */
export class ProviderRegistry {
  private readonly byId = new Map<string, Provider>();

  /**
   * @param configs - validated provider configs
   * @param options - upstream seams and deadline
   */
  constructor(configs: readonly ProviderConfig[], options: UpstreamOptions) {
    for (const config of configs) {
      this.byId.set(
        config.id,
        config.kind === 'hub' ? new HubProvider(config, options) : new OidcProvider(config, options)
      );
    }
  }

  /** Every provider, in config order. */
  all(): Provider[] {
    return [...this.byId.values()];
  }

  /**
   * Finds a provider by an id from a URL, validating the id before anything uses it.
   *
   * @param id - the raw path segment
   * @returns the provider
   * @throws {@link InvalidRequest} for an id that is not well-formed (`..`, `/`, NUL, non-ASCII)
   * @throws {@link UnknownProvider} when no provider has that id
   */
  lookup(id: unknown): Provider {
    if (typeof id !== 'string' || !PROVIDER_ID.test(id)) {
      throw new InvalidRequest('The provider id is not well-formed.');
    }
    const provider = this.byId.get(id);
    if (provider === undefined) throw new UnknownProvider(id);
    return provider;
  }

  /**
   * Finds a provider the user signs in to through the broker (not the hub login).
   *
   * @param id - the raw path segment
   * @returns the provider
   * @throws {@link InvalidRequest} for a malformed id, or for a `hub` provider (the hub signs in)
   * @throws {@link UnknownProvider} when no provider has that id
   */
  lookupSignIn(id: unknown): OidcProvider {
    const provider = this.lookup(id);
    if (provider instanceof HubProvider) {
      throw new InvalidRequest(
        `Provider '${provider.id}' is your JupyterHub login: it needs no sign-in here; log in to JupyterHub instead.`
      );
    }
    return provider;
  }
}
