/**
 * `POST /api/v1/providers/{id}/token`: an access token for the caller.
 *
 * The broker's hot route: every token a kernel or a plugin asks for comes here, mostly answered from
 * the cache. It is therefore served by a plain `node:http` handler in front of express: express's
 * per-request work (the router walk over every layer, its request and response prototypes) cost
 * more than the whole route on a cache hit. It shares every check and answer with the express
 * routes: the key ({@link keyCheck}), the JSON body reader ({@link readJson}), the error answer
 * ({@link sendError}).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest, toErrorBody } from '../errors.js';
import { readJson } from '../jsonBody.js';
import { keyCheck } from '../keyAuth.js';
import { sendError } from '../middleware.js';
import { bodyFields, parseScopes, requireAllowed } from '../scopes.js';

/** The largest `min_ttl` a caller may ask for. */
const MAX_MIN_TTL = 86400;

/** The route's path; the id is everything between `providers/` and `/token`, still encoded. */
const TOKEN_PATH = /^\/api\/v1\/providers\/([^/?#]*)\/token(?:\?|$)/;

/** A route served by a plain `node:http` handler in front of express. */
export interface PlainRoute {
  /** The method and path in OpenAPI syntax, e.g. `POST /api/v1/providers/{id}/token`. */
  readonly route: string;
  /**
   * Serves the request when it is this route's.
   *
   * @returns false (having touched nothing) when the request is for another route
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

function parseMinTtl(raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null) return fallback;
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

/** The provider id of the path, percent-decoded (the registry then checks its form). */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new InvalidRequest('The provider id is not well-formed.', { cause: err });
  }
}

/**
 * The token route.
 *
 * @param context - the broker's services
 * @param key - the shared key the request must carry
 * @param bodyLimit - the largest request body accepted, in bytes
 * @returns the route, to be asked before express
 * @example
 * ```ts
 * const token = tokenRoute(context, key, 16 * 1024);
 * createServer((req, res) => token.handle(req, res) || app(req, res));
 * ```
 */
export function tokenRoute(context: BrokerContext, key: string, bodyLimit: number): PlainRoute {
  const { providers, log, config, audit, consents, metrics } = context;
  const checkKey = keyCheck(key);

  const serve = async (req: IncomingMessage, res: ServerResponse, rawId: string): Promise<void> => {
    checkKey(req);
    const raw = await readJson(req, bodyLimit);
    const provider = providers.lookup(decodeId(rawId));
    const body = bodyFields(raw, ['scopes', 'min_ttl', 'audience']);
    const scopes = parseScopes(body.scopes);
    const audience = parseAudience(body.audience);
    const minTtl = parseMinTtl(body.min_ttl, config.default_min_ttl);
    const client = clientOf(req);
    let token;
    try {
      if (scopes !== undefined) requireAllowed(provider.config, scopes);
      await consents.require(client, provider.id);
      await audit.assertWritable();
      token = await context.grants.get(provider, { scopes, minTtl, audience });
    } catch (err) {
      // A refusal or failure hands nothing out; it is recorded as well as the trail allows.
      const { status, body: answer } = toErrorBody(err);
      const denied = status === 401 || status === 403;
      metrics.tokensIssued.inc({ provider: provider.id, outcome: denied ? 'denied' : 'error' });
      log.info(denied ? 'token_denied' : 'token_failed', {
        provider: provider.id,
        client,
        scopes,
        reason: answer.error
      });
      audit.note({
        type: denied ? 'denial' : 'issue',
        provider: provider.id,
        client,
        scopes: scopes ?? null,
        outcome: denied ? 'denied' : 'error',
        code: answer.error
      });
      throw err;
    }
    // No token leaves the broker unrecorded: a failed write answers 503 instead.
    await audit.record({
      type: 'issue',
      provider: provider.id,
      client,
      scopes: token.scopes,
      outcome: 'ok'
    });
    metrics.tokensIssued.inc({ provider: provider.id, outcome: 'ok' });
    const now = Math.floor(context.clock() / 1000);
    // Debug, not info: the audit trail already records every issue, and a log line per cache hit
    // was the largest cost of the route (and of the Jupyter log the lines are forwarded to).
    log.debug('token_issued', {
      provider: provider.id,
      client,
      scopes: token.scopes,
      expires_at: token.expiresAt
    });
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
  };

  return {
    route: 'POST /api/v1/providers/{id}/token',
    handle(req, res) {
      if (req.method !== 'POST') return false;
      const match = TOKEN_PATH.exec(req.url ?? '');
      if (match === null) return false;
      serve(req, res, match[1]).catch(err => sendError(err, req, res, context));
      return true;
    }
  };
}
