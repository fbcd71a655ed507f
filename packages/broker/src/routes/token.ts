/**
 * `POST /api/v1/providers/{id}/token`: an access token for the caller.
 *
 * The broker's hot route: every token a kernel or a plugin asks for comes here, mostly answered from
 * the cache. It passes the same request stages as every route (the key check, the admin's reach,
 * the JSON body reader: `app.ts`) and its errors go to the one error writer, but it is matched
 * before express: express's router cost about 0.25 ms of CPU per request here, three times the
 * route's own work, and `make bench` asks the route to serve at least 0.8× the requests per second
 * of a minimal express app (docs/architecture.md, "Measured before kept").
 */
import type { ServerResponse } from 'node:http';

import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { MAX_MIN_TTL } from '../contract.generated.js';
import { InvalidRequest } from '../errors.js';
import { bodyFields, parseScopes } from '../scopes.js';
import type { StagedRequest } from '../stage.js';

const TOKEN_PATH = /^\/api\/v1\/providers\/([^/]*)\/token$/;

/** An explicit `min_ttl`, or undefined: the default, which the token service scales with the lifetime. */
function parseMinTtl(raw: unknown): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > MAX_MIN_TTL) {
    throw new InvalidRequest(`min_ttl must be an integer from 0 to ${MAX_MIN_TTL}.`);
  }
  return raw;
}

/** An `audience` of a token request: a non-empty string of at most 512 characters. */
function parseAudience(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string' || raw === '' || raw.length > 512 || /[\p{Cc}]/u.test(raw)) {
    throw new InvalidRequest('audience must be a non-empty string of at most 512 characters.');
  }
  return raw;
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new InvalidRequest('The provider id is not well-formed.', { cause: err });
  }
}

/** The token route, served in front of express (see the file's header). */
export interface TokenRoute {
  /** The method and path in OpenAPI syntax: `POST /api/v1/providers/{id}/token`. */
  readonly route: string;
  /**
   * The provider id of a request for this route, still percent-encoded.
   *
   * @param method - the request's method
   * @param path - its path without the query
   * @returns the id, or undefined when the request is for another route
   */
  match(method: string | undefined, path: string): string | undefined;
  /**
   * Answers the request; rejects with what went wrong, for the error writer.
   *
   * @param req - the request, after the stages
   * @param res - its response
   * @param rawId - what {@link TokenRoute.match} returned
   */
  serve(req: StagedRequest, res: ServerResponse, rawId: string): Promise<void>;
}

/**
 * The token route.
 *
 * @param context - the broker's services
 * @returns the route
 * @example
 * ```ts
 * const token = tokenRoute(context);
 * const id = token.match(req.method, pathOf(req.url));
 * if (id !== undefined) await token.serve(req, res, id);
 * ```
 */
export function tokenRoute(context: BrokerContext): TokenRoute {
  const { providers, tokenRequests } = context;
  return {
    route: 'POST /api/v1/providers/{id}/token',
    match: (method, path) => (method === 'POST' ? TOKEN_PATH.exec(path)?.[1] : undefined),
    async serve(req, res, rawId) {
      const provider = providers.lookup(decodeId(rawId));
      const body = bodyFields(req.body, ['scopes', 'min_ttl', 'audience']);
      const scopes = parseScopes(body.scopes);
      const audience = parseAudience(body.audience);
      const minTtl = parseMinTtl(body.min_ttl);
      const client = clientOf(req);
      const { token } = await tokenRequests.issue(provider, client, { scopes, minTtl, audience });
      const now = Math.floor(context.clock() / 1000);
      const answer = JSON.stringify({
        access_token: token.accessToken,
        token_type: 'Bearer',
        expires_at: token.expiresAt,
        expires_in: token.expiresAt - now,
        scopes: token.scopes,
        provider: provider.id
      });
      // Headers and body in one write.
      res
        .writeHead(200, {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(answer),
          'Cache-Control': 'no-store',
          Pragma: 'no-cache'
        })
        .end(answer);
    }
  };
}
