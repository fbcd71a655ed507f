/**
 * Admin revocation: `POST /api/v1/admin/revoke` ends one provider's grant or every grant, upstream
 * (RFC 7009) and locally. Only for `X-Broker-Caller: admin`, which the server extension sets only for
 * a JupyterHub user holding the `custom:token-broker:admin` scope for this server.
 */
import { Router } from 'express';

import { clientOf, isAdmin } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest } from '../errors.js';
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
  const { providers, revocations } = context;
  const router = Router();

  router.post('/api/v1/admin/revoke', async (req, res) => {
    const client = clientOf(req);
    await revocations.requireAdmin(isAdmin(req), client);
    const body = bodyFields(req.body, ['provider', 'reason', 'force']);
    const all = body.provider === undefined || body.provider === null;
    const targets = all ? providers.all() : [providers.lookup(body.provider)];
    const reason = parseReason(body.reason);
    if (body.force !== undefined && typeof body.force !== 'boolean') {
      throw new InvalidRequest('force must be true or false.');
    }
    const result = await revocations.revokeAll(targets, {
      client,
      reason,
      force: body.force === true,
      provider: all ? null : targets[0].id
    });
    res.set('Cache-Control', 'no-store').json(result);
  });

  return router;
}
