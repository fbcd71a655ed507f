/**
 * The `hub` provider: access tokens of the user's JupyterHub login, from the hub's own route
 * (`GET {token_url}?min_ttl=N` with `Authorization: token <the server's hub API token>`). The hub
 * holds the refresh token and refreshes; this side never sees one.
 *
 * This is the boundary where the hub's answers become {@link BrokerError}s:
 * - 200 `{access_token, token_type, expires_at, scope}` → a {@link TokenSet} without refresh token;
 * - 400 (`min_ttl` longer than the IdP's tokens live) → 400 `invalid_request` with the hub's text;
 * - 401 `login_required` (the hub login has ended) → {@link HubLoginEnded};
 * - 503 / 5xx / no answer within the deadline → 503 `upstream_unavailable`, keeping `Retry-After`;
 * - anything else (403: the server's token lacks the scope; 404) → 502 `upstream_error`.
 * The server's API token appears in no message, log line or error.
 */
import type { ProviderConfig } from './providerConfig.js';
import {
  BrokerError,
  type ErrorCode,
  InvalidRequest,
  UpstreamError,
  UpstreamUnavailable
} from '../errors.js';
import type { HubSource } from './hubConfig.js';
import type { TokenSet } from './oidc.js';
import type { UpstreamOptions } from './upstream.js';

/** Most seconds a `Retry-After` from the hub is honoured. */
const MAX_RETRY_AFTER = 300;
/** Largest answer read from the hub. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Longest hub description passed on to a caller. */
const MAX_DESCRIPTION = 300;

/** 401: the user's JupyterHub login has ended; only a new hub login brings tokens back. */
export class HubLoginEnded extends BrokerError {
  /** @param provider - provider id */
  constructor(provider: string) {
    super(
      'login_required',
      `Provider '${provider}' is your JupyterHub login, which has ended: log in to JupyterHub again.`
    );
  }
}

/** The hub's `error_description`, made safe to show: a single line, bounded, or null. */
function hubDescription(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const text = (body as Record<string, unknown>).error_description;
  if (typeof text !== 'string' || text.trim() === '') return null;
  return text
    .replace(/[\p{Cc}]+/gu, ' ')
    .trim()
    .slice(0, MAX_DESCRIPTION);
}

function retryAfterOf(response: Response): number {
  const retry = Number(response.headers.get('retry-after'));
  return Number.isFinite(retry) && retry > 0 ? Math.min(Math.ceil(retry), MAX_RETRY_AFTER) : 5;
}

/** Reads at most {@link MAX_ANSWER_BYTES} of JSON; undefined when it is not JSON. */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (Buffer.byteLength(text) > MAX_ANSWER_BYTES) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The checked token of a 200 answer; refresh or ID tokens in it are never kept. */
function tokenSetOf(provider: string, body: unknown, now: number): TokenSet {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const { access_token: access, token_type: type, expires_at: expiresAt, scope } = fields;
  if (
    typeof access !== 'string' ||
    access === '' ||
    typeof type !== 'string' ||
    type.toLowerCase() !== 'bearer' ||
    typeof expiresAt !== 'number' ||
    !Number.isInteger(expiresAt) ||
    (scope !== undefined && scope !== null && typeof scope !== 'string')
  ) {
    throw new UpstreamError(`JupyterHub's token answer for '${provider}' was not usable.`);
  }
  return {
    accessToken: access,
    tokenType: 'Bearer',
    expiresAt,
    lifetime: expiresAt - now,
    scopes: typeof scope === 'string' ? [...new Set(scope.split(' ').filter(Boolean))] : [],
    refreshToken: null,
    claims: undefined
  };
}

/**
 * A configured `hub` provider.
 *
 * @example
 * ```ts
 * const hub = new HubProvider(config.providers[0], { timeoutMs: 10000, now: Date.now, log });
 * const tokens = await hub.fetchToken(60);
 * ```
 */
export class HubProvider {
  /** The last failure, shown in the provider list until a token comes (login ended, hub down). */
  lastError: BrokerError | undefined;
  private readonly source: HubSource;
  /** The hub request under way, which {@link problem} waits for. */
  private inFlight: Promise<unknown> | undefined;

  /**
   * @param config - a provider of kind `hub`
   * @param options - deadline and fetch seam
   */
  constructor(
    readonly config: ProviderConfig,
    private readonly options: UpstreamOptions
  ) {
    if (config.hub === undefined) throw new Error(`provider '${config.id}' is not of kind hub`);
    this.source = config.hub;
  }

  /** The provider id. */
  get id(): string {
    return this.config.id;
  }

  /** The hub user whose login this is, or null. */
  get account(): string | null {
    return this.source.account;
  }

  /** Nothing to discover: the hub's route is configured. */
  async warmUp(): Promise<void> {}

  /**
   * What keeps this provider from working now, as the provider list shows it.
   *
   * @returns the last failure's code and description, or undefined
   */
  async problem(): Promise<{ code: ErrorCode; description: string } | undefined> {
    // The list asks for a first token and for this at once: report how that request ends.
    await this.inFlight?.catch(() => undefined);
    const failed = this.lastError;
    return failed === undefined ? undefined : { code: failed.code, description: failed.message };
  }

  /**
   * Asks the hub for the login's access token.
   *
   * @param minTtl - seconds the token must have left (`min_ttl`; the hub refreshes ahead otherwise)
   * @returns the token (never a refresh token)
   * @throws {@link HubLoginEnded} when the hub login has ended
   * @throws {@link InvalidRequest} when the hub cannot give a token living `minTtl` seconds
   * @throws {@link UpstreamUnavailable} when the hub (or its IdP) is unreachable, slow or failing
   * @throws {@link UpstreamError} for any other answer
   */
  fetchToken(minTtl: number): Promise<TokenSet> {
    const request = this.request(minTtl);
    this.inFlight = request;
    return request.finally(() => {
      if (this.inFlight === request) this.inFlight = undefined;
    });
  }

  private async request(minTtl: number): Promise<TokenSet> {
    const url = new URL(this.source.token_url);
    url.searchParams.set('min_ttl', String(minTtl));
    const { timeoutMs } = this.options;
    const deadline = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let body: unknown;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        method: 'GET',
        headers: {
          Authorization: `token ${this.source.hub_api_token.reveal()}`,
          Accept: 'application/json'
        },
        redirect: 'manual',
        signal: deadline
      });
      body = await readJson(response);
    } catch (err) {
      throw this.failed(
        new UpstreamUnavailable(
          deadline.aborted
            ? `JupyterHub did not answer within ${timeoutMs} ms.`
            : 'JupyterHub is unreachable.',
          { cause: err }
        )
      );
    }
    if (response.status === 200) {
      const tokens = tokenSetOf(this.id, body, Math.floor(this.options.now() / 1000));
      this.lastError = undefined;
      return tokens;
    }
    if (response.status === 401) throw this.failed(new HubLoginEnded(this.id));
    if (response.status === 400) {
      const why = hubDescription(body) ?? `min_ttl ${minTtl} was refused.`;
      throw new InvalidRequest(`JupyterHub: ${why}`);
    }
    if (response.status >= 500) {
      // The hub's own description says why (e.g. the identity provider is down) and that the login is kept;
      // the retry hint is always said in words too, for callers that only show the message.
      const retryAfter = retryAfterOf(response);
      const why = hubDescription(body);
      throw this.failed(
        new UpstreamUnavailable(
          `JupyterHub could not give a token for '${this.id}' now (${response.status})` +
            (why ? `: ${why}` : '.') +
            (why !== null && /try again in/i.test(why) ? '' : ` Try again in ${retryAfter} s.`),
          { retryAfter }
        )
      );
    }
    const code =
      typeof body === 'object' &&
      body !== null &&
      typeof (body as { error?: unknown }).error === 'string'
        ? ` '${String((body as { error: string }).error).slice(0, 40)}'`
        : '';
    throw this.failed(
      new UpstreamError(
        `JupyterHub refused the token request of '${this.id}' (${response.status}${code}); ` +
          'the hub must run jupyter_token_broker.hub.configure() and grant the server custom:token-broker:token.'
      )
    );
  }

  /** Remembers a failure for the provider list and the log, then returns it to throw. */
  private failed(err: BrokerError): BrokerError {
    this.lastError = err;
    this.options.log.warn('hub_token_failed', {
      provider: this.id,
      reason: err.code,
      status: err.status
    });
    return err;
  }
}
