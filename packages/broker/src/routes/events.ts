/**
 * The audit trail resource: `GET /api/v1/events`.
 */
import { Router } from 'express';

import { PROVIDER_ID } from '../config.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest } from '../errors.js';

/** Events returned when the caller does not say. */
const DEFAULT_LIMIT = 100;
/** The most events one request may ask for. */
const MAX_LIMIT = 1000;

function parseLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (
    typeof raw !== 'string' ||
    !/^[0-9]{1,4}$/.test(raw) ||
    Number(raw) < 1 ||
    Number(raw) > MAX_LIMIT
  ) {
    throw new InvalidRequest(`limit must be an integer from 1 to ${MAX_LIMIT}.`);
  }
  return Number(raw);
}

function parseProvider(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !PROVIDER_ID.test(raw)) {
    throw new InvalidRequest('The provider id is not well-formed.');
  }
  return raw;
}

/**
 * `GET /api/v1/events?limit=N&provider=ID`: recent audit events, newest first.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function eventRoutes(context: BrokerContext): Router {
  const router = Router();
  router.get('/api/v1/events', (req, res) => {
    const limit = parseLimit(req.query.limit);
    const provider = parseProvider(req.query.provider);
    res.set('Cache-Control', 'no-store').json({
      events: context.audit.recent({ limit, ...(provider === undefined ? {} : { provider }) })
    });
  });
  return router;
}
