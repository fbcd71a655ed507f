import { Router } from 'express';

import { VERSION } from '../version.js';

/**
 * `GET /api/v1/health`: liveness and version; the only route without the broker key.
 *
 * @returns the router
 */
export function healthRoutes(): Router {
  const router = Router();
  router.get('/api/v1/health', (_req, res) => {
    res.json({ status: 'ok', version: VERSION });
  });
  return router;
}
