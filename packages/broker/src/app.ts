/**
 * Wiring only: express with the middleware in order, the routes and the error middleware. Every
 * route goes through this one pipeline.
 */
import express, { type Express } from 'express';

import { adminReach } from './caller.js';
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
import { tokenRoutes } from './routes/token.js';

/**
 * Builds HTTP API v1.
 *
 * @param context - the broker's services
 * @param key - the shared key every request but health must carry
 * @returns the express application, ready to listen
 * @example
 * ```ts
 * const app = createApp(createContext(config), key);
 * await listen(app, { socket: '/run/user/1000/tb/broker.sock' });
 * ```
 */
export function createApp(context: BrokerContext, key: string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requireKey(key));
  app.use(adminReach(context.events));
  app.use(readJsonBody(MAX_BODY_BYTES));
  // First: every token a kernel or plugin asks for comes through here.
  app.use(tokenRoutes(context));
  app.use(providerRoutes(context));
  app.use(healthRoutes());
  app.use(loginRoutes(context));
  app.use(eventRoutes(context));
  app.use(consentRoutes(context));
  app.use(adminRoutes(context));
  app.use(metricsRoutes(context));
  app.use(notFound());
  app.use(handleErrors(context));
  return app;
}
