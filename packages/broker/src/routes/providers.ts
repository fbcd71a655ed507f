/**
 * The provider resource: the list, access tokens, and sign-out.
 */
import { Router } from 'express';

import type { BrokerContext } from '../context.js';
import { InvalidRequest } from '../errors.js';
import { bodyFields, parseScopes, requireAllowed } from '../scopes.js';

/** The largest `min_ttl` a caller may ask for. */
const MAX_MIN_TTL = 86400;

function parseMinTtl(raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > MAX_MIN_TTL) {
    throw new InvalidRequest(`min_ttl must be an integer from 0 to ${MAX_MIN_TTL}.`);
  }
  return raw;
}

/** The audit label of the caller, from `X-Broker-Client`. */
export function clientLabel(value: string | undefined): string {
  return value !== undefined && /^[A-Za-z0-9@/:._-]{1,128}$/.test(value) ? value : 'unknown';
}

/**
 * `GET /api/v1/providers`, `POST /api/v1/providers/{id}/token`, `DELETE /api/v1/providers/{id}/grant`.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function providerRoutes(context: BrokerContext): Router {
  const { providers, tokens, log, config } = context;
  const router = Router();

  router.get('/api/v1/providers', async (_req, res) => {
    const list = await Promise.all(
      providers.all().map(async provider => {
        provider.warmUp();
        const status = await tokens.status(provider.id);
        return {
          id: provider.id,
          title: provider.config.title,
          kind: provider.config.kind,
          signed_in: status.signedIn,
          account: status.account,
          scopes: status.scopes ?? provider.config.scopes,
          expires_at: status.expiresAt,
          needs_login: status.needsLogin,
          ...(provider.lastError === undefined ? {} : { error: provider.lastError })
        };
      })
    );
    res.set('Cache-Control', 'no-store').json({ providers: list });
  });

  router.post('/api/v1/providers/:id/token', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    const body = bodyFields(req.body, ['scopes', 'min_ttl']);
    const scopes = parseScopes(body.scopes);
    const minTtl = parseMinTtl(body.min_ttl, config.default_min_ttl);
    const client = clientLabel(req.get('x-broker-client'));
    if (scopes !== undefined) {
      try {
        requireAllowed(provider.config, scopes);
      } catch (err) {
        log.info('token_denied', {
          provider: provider.id,
          client,
          scopes,
          reason: 'scope_not_allowed'
        });
        throw err;
      }
    }
    const token = await tokens.get(provider, scopes, minTtl);
    const now = Math.floor(context.clock() / 1000);
    log.info('token_issued', {
      provider: provider.id,
      client,
      scopes: token.scopes,
      expires_at: token.expiresAt
    });
    res
      .set('Cache-Control', 'no-store')
      .set('Pragma', 'no-cache')
      .json({
        access_token: token.accessToken,
        token_type: 'Bearer',
        expires_at: token.expiresAt,
        expires_in: token.expiresAt - now,
        scopes: token.scopes,
        provider: provider.id
      });
  });

  router.delete('/api/v1/providers/:id/grant', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    await tokens.signOut(provider.id);
    log.info('signed_out', {
      provider: provider.id,
      client: clientLabel(req.get('x-broker-client'))
    });
    res.status(204).end();
  });

  return router;
}
