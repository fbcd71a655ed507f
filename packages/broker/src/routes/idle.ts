/**
 * The idle resource: whether the broker can exit now without losing anything (`idleExit.ts`).
 * `GET /api/v1/idle`, for the server extension's supervisor; the owner only (an admin caller is
 * refused by the request stages, `caller.ts`).
 */
import { Router } from 'express';

import type { BrokerContext } from '../context.js';
import { idleState } from '../idleExit.js';

/**
 * The idle route.
 *
 * @param context - the broker's services
 * @returns the router
 * @example
 * ```ts
 * app.use(idleRoutes(context));
 * ```
 */
export function idleRoutes(context: BrokerContext): Router {
  const router = Router();
  router.get('/api/v1/idle', async (_req, res) => {
    const state = await idleState(context);
    res.set('Cache-Control', 'no-store').json({
      can_exit: state.canExit,
      keeps: state.keeps,
      description: state.description
    });
  });
  return router;
}
