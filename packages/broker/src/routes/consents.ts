/**
 * The consent resource: which plugins may get tokens of which provider.
 * `GET|PUT|DELETE /api/v1/consents`.
 */
import { Router, type Request } from 'express';

import { CLIENT_LABEL, clientOf } from '../caller.js';
import { CONSENT_DECISIONS, type ConsentDecision, needsConsent } from '../consents.js';
import type { BrokerContext } from '../context.js';
import { BrokerError, InvalidRequest } from '../errors.js';
import { bodyFields } from '../scopes.js';

/** The only client that may record or withdraw decisions: the owner's own JupyterLab. */
const DECIDER = 'jupyterlab';

function pluginLabel(raw: unknown): string {
  if (typeof raw !== 'string' || !CLIENT_LABEL.test(raw) || !needsConsent(raw)) {
    throw new InvalidRequest('client must be the client label of a plugin.');
  }
  return raw;
}

function decisionOf(raw: unknown): ConsentDecision {
  if (typeof raw !== 'string' || !(CONSENT_DECISIONS as readonly string[]).includes(raw)) {
    throw new InvalidRequest(`decision must be one of ${CONSENT_DECISIONS.join(', ')}.`);
  }
  return raw as ConsentDecision;
}

/**
 * The consent routes.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function consentRoutes(context: BrokerContext): Router {
  const { consents, audit, providers } = context;
  const router = Router();

  /** Only the owner's JupyterLab decides; a refusal is itself audited. */
  async function requireDecider(req: Request, provider: string | null): Promise<string> {
    const client = clientOf(req);
    if (client !== DECIDER) {
      await audit.record({
        type: 'denial',
        provider,
        client,
        outcome: 'denied',
        code: 'forbidden',
        reason: 'consent decisions come only from JupyterLab'
      });
      throw new BrokerError('forbidden', 'Consents are decided only in JupyterLab itself.');
    }
    return client;
  }

  router.get('/api/v1/consents', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ consents: await consents.list() });
  });

  router.put('/api/v1/consents', async (req, res) => {
    const body = bodyFields(req.body, ['client', 'provider', 'decision']);
    const provider = providers.lookup(body.provider).id;
    const plugin = pluginLabel(body.client);
    const decision = decisionOf(body.decision);
    const client = await requireDecider(req, provider);
    await audit.assertWritable();
    await consents.decide(plugin, provider, decision);
    await audit.record({
      type: 'consent',
      provider,
      client,
      outcome: 'ok',
      reason: `${decision} for ${plugin}`
    });
    res.status(204).end();
  });

  router.delete('/api/v1/consents', async (req, res) => {
    const provider = providers.lookup(req.query.provider).id;
    const plugin = pluginLabel(req.query.client);
    const client = await requireDecider(req, provider);
    await audit.assertWritable();
    await consents.withdraw(plugin, provider);
    await audit.record({
      type: 'consent',
      provider,
      client,
      outcome: 'ok',
      reason: `withdrawn for ${plugin}`
    });
    res.status(204).end();
  });

  return router;
}
