/**
 * Wiring only: the plain token route in front, then express with the middleware in order, the
 * routes and the error middleware.
 */
import type { RequestListener } from 'node:http';

import express, { type Express } from 'express';

import type { BrokerContext } from './context.js';
import { MAX_BODY_BYTES } from './contract.generated.js';
import { readJsonBody } from './jsonBody.js';
import { requireKey } from './keyAuth.js';
import { handleErrors, notFound } from './middleware.js';
import { adminRoutes } from './routes/admin.js';
import { consentRoutes } from './routes/consents.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { loginRoutes } from './routes/login.js';
import { metricsRoutes } from './routes/metrics.js';
import { providerRoutes } from './routes/providers.js';
import { tokenRoute } from './routes/token.js';

/** HTTP API v1, ready to be handed to `node:http`. */
export interface BrokerApp {
  /** Serves every request: the plain routes first, then express. */
  readonly listener: RequestListener;
  /** The express application, serving every route but the plain ones. */
  readonly express: Express;
  /** The routes served in front of express, in OpenAPI syntax (`POST /api/v1/…/{id}/token`). */
  readonly plainRoutes: readonly string[];
}

/**
 * Builds HTTP API v1.
 *
 * @param context - the broker's services
 * @param key - the shared key every request but health must carry
 * @returns the application, ready to listen
 * @example
 * ```ts
 * const app = createApp(createContext(config), key);
 * await listen(app, { socket: '/run/user/1000/tb/broker.sock' });
 * ```
 */
export function createApp(context: BrokerContext, key: string): BrokerApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requireKey(key));
  app.use(readJsonBody(MAX_BODY_BYTES));
  app.use(providerRoutes(context));
  app.use(healthRoutes());
  app.use(loginRoutes(context));
  app.use(eventRoutes(context));
  app.use(consentRoutes(context));
  app.use(adminRoutes(context));
  app.use(metricsRoutes(context));
  app.use(notFound());
  app.use(handleErrors(context));

  // The token route is the one called for every token a kernel or plugin asks for.
  const token = tokenRoute(context, key, MAX_BODY_BYTES);
  return {
    listener: (req, res) => {
      if (!token.handle(req, res)) app(req, res);
    },
    express: app,
    plainRoutes: [token.route]
  };
}
