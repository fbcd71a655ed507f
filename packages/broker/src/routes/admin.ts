/**
 * Admin revocation: `POST /api/v1/admin/revoke` ends one provider's grant or every grant, upstream
 * (RFC 7009) and locally. Only for `X-Broker-Caller: admin`, which the server extension sets only for
 * a JupyterHub user holding the `custom:token-broker:admin` scope for this server.
 */
import { Router } from 'express';

import { clientOf, isAdmin } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { BrokerError, InvalidRequest } from '../errors.js';
import { bodyFields } from '../scopes.js';

/** Longest admin reason kept. */
const MAX_REASON = 500;

function parseReason(raw: unknown): string {
  if (
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    raw.length > MAX_REASON ||
    /\p{Cc}/u.test(raw)
  ) {
    throw new InvalidRequest(`reason is required: one line of up to ${MAX_REASON} characters.`);
  }
  return raw.trim();
}

/**
 * The admin routes.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function adminRoutes(context: BrokerContext): Router {
  const { providers, audit, revocations } = context;
  const router = Router();

  router.post('/api/v1/admin/revoke', async (req, res) => {
    const client = clientOf(req);
    if (!isAdmin(req)) {
      await audit.record({
        type: 'denial',
        provider: null,
        client,
        outcome: 'denied',
        code: 'forbidden',
        reason: 'admin revocation without the admin role'
      });
      throw new BrokerError('forbidden', 'Only an admin can revoke grants.');
    }
    const body = bodyFields(req.body, ['provider', 'reason', 'force']);
    const targets =
      body.provider === undefined || body.provider === null
        ? providers.all()
        : [providers.lookup(body.provider)];
    const reason = parseReason(body.reason);
    if (body.force !== undefined && typeof body.force !== 'boolean') {
      throw new InvalidRequest('force must be true or false.');
    }
    const force = body.force === true;
    await audit.assertWritable();
    const revoked: Array<{ provider: string; upstream: string }> = [];
    const failed: Array<{ provider: string; error: string }> = [];
    for (const target of targets) {
      const result = await revocations.end(target, { client, by: 'admin', reason, force });
      if (result.ended) revoked.push({ provider: target.id, upstream: result.upstream });
      else if (result.reason === 'upstream_failed') {
        failed.push({ provider: target.id, error: result.error.code });
      }
    }
    await audit.record({
      type: 'revoke',
      provider: body.provider === undefined || body.provider === null ? null : targets[0].id,
      client,
      outcome: failed.length === 0 ? 'ok' : 'error',
      reason: `admin: ${reason}${force ? ' (force)' : ''}: ${revoked.length} revoked, ${failed.length} failed`
    });
    res.set('Cache-Control', 'no-store').json({ revoked, failed });
  });

  return router;
}
