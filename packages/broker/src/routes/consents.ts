/**
 * The consent resource: which plugins may get tokens of which provider.
 * `GET|PUT|DELETE /api/v1/consents`.
 */
import { Router } from 'express';

import { CLIENT_LABEL, clientOf } from '../caller.js';
import { CONSENT_DECISIONS, type ConsentDecision, needsConsent } from '../consents.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest } from '../errors.js';
import { bodyFields } from '../scopes.js';

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
  const { consents, providers } = context;
  const router = Router();

  router.get('/api/v1/consents', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ consents: await consents.list() });
  });

  router.put('/api/v1/consents', async (req, res) => {
    const body = bodyFields(req.body, ['client', 'provider', 'decision']);
    const provider = providers.lookup(body.provider).id;
    const plugin = pluginLabel(body.client);
    const decision = decisionOf(body.decision);
    await consents.decide(plugin, provider, decision, clientOf(req));
    res.status(204).end();
  });

  router.delete('/api/v1/consents', async (req, res) => {
    const provider = providers.lookup(req.query.provider).id;
    const plugin = pluginLabel(req.query.client);
    await consents.withdraw(plugin, provider, clientOf(req));
    res.status(204).end();
  });

  return router;
}
