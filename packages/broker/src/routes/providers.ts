/**
 * The provider resource: the list, access tokens, and sign-out.
 */
import { Router } from 'express';

import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest, toErrorBody } from '../errors.js';
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

/** An `audience` of a token request: a non-empty string of at most 512 characters. */
function parseAudience(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string' || raw === '' || raw.length > 512 || /[\p{Cc}]/u.test(raw)) {
    throw new InvalidRequest('audience must be a non-empty string of at most 512 characters.');
  }
  return raw;
}

/**
 * `GET /api/v1/providers`, `POST /api/v1/providers/{id}/token`, `DELETE /api/v1/providers/{id}/grant`.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function providerRoutes(context: BrokerContext): Router {
  const { providers, log, config, audit, consents, metrics, revocations } = context;
  const router = Router();

  router.get('/api/v1/providers', async (_req, res) => {
    const list = await Promise.all(
      providers.all().map(async provider => {
        provider.warmUp();
        const status = await context.grants.status(provider);
        return {
          id: provider.id,
          title: provider.config.title,
          kind: provider.config.kind,
          grant: provider.config.grant,
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
    const body = bodyFields(req.body, ['scopes', 'min_ttl', 'audience']);
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
    // was the largest cost of the token route (and of the Jupyter log the lines are forwarded to).
    log.debug('token_issued', {
      provider: provider.id,
      client,
      scopes: token.scopes,
      expires_at: token.expiresAt
    });
    // Written directly rather than through res.json (the most called answer of the broker): express's
    // send adds type lookup and freshness checks a POST never needs, and a string body goes out with
    // its headers in one write.
    const answer = JSON.stringify({
      access_token: token.accessToken,
      token_type: 'Bearer',
      expires_at: token.expiresAt,
      expires_in: token.expiresAt - now,
      scopes: token.scopes,
      provider: provider.id
    });
    res
      .writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(answer),
        'Cache-Control': 'no-store',
        Pragma: 'no-cache'
      })
      .end(answer);
  });

  router.delete('/api/v1/providers/:id/grant', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    const client = clientOf(req);
    await audit.assertWritable();
    // The user asked to sign out: the grant is forgotten even when the IdP cannot revoke it now
    // (the revocation is then queued and retried).
    const result = await revocations.end(provider, {
      client,
      by: 'user',
      reason: 'sign-out',
      force: true
    });
    log.info('signed_out', { provider: provider.id, client });
    await audit.record({
      type: 'logout',
      provider: provider.id,
      client,
      outcome: 'ok',
      reason: result.ended ? `signed out (upstream: ${result.upstream})` : 'was not signed in'
    });
    res.status(204).end();
  });

  return router;
}
