/**
 * `GET /metrics`: Prometheus text. Needs the broker key like every route but health.
 */
import { Router } from 'express';

import type { BrokerContext } from '../context.js';
import { METRICS_CONTENT_TYPE } from '../metrics.js';

/**
 * The metrics route.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function metricsRoutes(context: BrokerContext): Router {
  const router = Router();
  router.get('/metrics', (_req, res) => {
    res.set('Cache-Control', 'no-store').type(METRICS_CONTENT_TYPE).send(context.metrics.render());
  });
  return router;
}
