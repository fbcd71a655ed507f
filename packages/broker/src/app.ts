/**
 * Wiring only: one pipeline for every request. The request stages run first, in order (the key
 * check, the admin's reach, the JSON body reader, which leaves the egress's streamed bodies
 * unread); then the token route and the egress route, matched directly, or express's router for
 * every other route; every failure goes to the one error writer (`sendError`). The token route is
 * matched before express because express's router cost about three times the route's own work per
 * request (`routes/token.ts`); the egress because its body is a stream of any type and size.
 */
import type { RequestListener } from 'node:http';

import express, { type Express } from 'express';

import { adminReach } from './caller.js';
import type { BrokerContext } from './context.js';
import { MAX_BODY_BYTES } from './contract.generated.js';
import { readJsonBody } from './jsonBody.js';
import { requireKey } from './keyAuth.js';
import { handleErrors, notFound, sendError } from './middleware.js';
import { adminRoutes } from './routes/admin.js';
import { consentRoutes } from './routes/consents.js';
import { egressRoute } from './routes/egress.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { idleRoutes } from './routes/idle.js';
import { loginRoutes } from './routes/login.js';
import { metricsRoutes } from './routes/metrics.js';
import { providerRoutes } from './routes/providers.js';
import { tokenRoute } from './routes/token.js';
import { pathOf, type RequestStage, type StagedRequest } from './stage.js';

/** HTTP API v1, ready to be handed to `node:http`. */
export interface BrokerApp extends RequestListener {
  /** The router of every route but the token and egress routes. */
  readonly express: Express;
  /** The routes matched in front of express, in OpenAPI syntax (`POST /api/v1/…/{id}/token`). */
  readonly plainRoutes: readonly string[];
}

/**
 * Builds HTTP API v1.
 *
 * @param context - the broker's services
 * @param key - the shared key every request but health must carry
 * @returns the request listener
 * @example
 * ```ts
 * const app = createApp(createContext(config), key);
 * await listen(app, { socket: '/run/user/1000/tb/broker.sock' });
 * ```
 */
export function createApp(context: BrokerContext, key: string): BrokerApp {
  const egress = egressRoute(context);
  const stages: readonly RequestStage[] = [
    requireKey(key),
    adminReach(context.events),
    readJsonBody(MAX_BODY_BYTES, path => egress.streams(path))
  ];
  const token = tokenRoute(context);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(providerRoutes(context));
  app.use(healthRoutes());
  app.use(loginRoutes(context));
  app.use(eventRoutes(context));
  app.use(consentRoutes(context));
  app.use(adminRoutes(context));
  app.use(metricsRoutes(context));
  app.use(idleRoutes(context));
  app.use(notFound());
  app.use(handleErrors(context));

  const serve = async (req: StagedRequest, res: Parameters<RequestListener>[1]): Promise<void> => {
    const path = pathOf(req.url);
    for (const stage of stages) await stage(req, path);
    const id = token.match(req.method, path);
    if (id !== undefined) return token.serve(req, res, id);
    const call = egress.match(req.method, req.url);
    if (call !== undefined) return egress.serve(req, res, call);
    app(req, res);
  };
  const listener: RequestListener = (req, res) => {
    serve(req, res).catch(err => sendError(err, req, res, context));
  };
  return Object.assign(listener, { express: app, plainRoutes: [token.route, ...egress.routes] });
}
