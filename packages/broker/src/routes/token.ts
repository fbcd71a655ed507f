/**
 * `POST /api/v1/providers/{id}/token`: an access token for the caller.
 *
 * The broker's hot route: every token a kernel or a plugin asks for comes here, mostly answered from
 * the cache. It goes through express like every other route (the key check, the JSON body reader
 * and the error middleware of `app.ts`), mounted first. A plain `node:http` handler in front of
 * express saved about 0.3 ms of CPU per request, which no caller notices (`make bench`, see
 * docs/architecture.md), so there is one pipeline.
 */
import { Router } from 'express';

import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { MAX_MIN_TTL } from '../contract.generated.js';
import { InvalidRequest } from '../errors.js';
import { bodyFields, parseScopes } from '../scopes.js';

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

/**
 * The token route. The key check and the JSON body reader run before it (`app.ts`); what it throws
 * goes to the error middleware.
 *
 * @param context - the broker's services
 * @returns the router
 * @example
 * ```ts
 * app.use(requireKey(key), readJsonBody(MAX_BODY_BYTES), tokenRoutes(context));
 * ```
 */
export function tokenRoutes(context: BrokerContext): Router {
  const { providers, config, tokenRequests } = context;
  const router = Router();

  // Express decodes `:id`; malformed percent-encoding is a 400 `invalid_request` (errors.ts).
  router.post('/api/v1/providers/:id/token', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    const body = bodyFields(req.body, ['scopes', 'min_ttl', 'audience']);
    const scopes = parseScopes(body.scopes);
    const audience = parseAudience(body.audience);
    const minTtl = parseMinTtl(body.min_ttl, config.default_min_ttl);
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
  });
  return router;
}
