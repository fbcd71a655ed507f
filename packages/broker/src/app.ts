/**
 * Wiring only: the middleware in order, the routes, the error middleware.
 */
import express, { type Express } from 'express';

import type { BrokerContext } from './context.js';
import { readJsonBody } from './jsonBody.js';
import { requireKey } from './keyAuth.js';
import { countFailures } from './metrics.js';
import { handleErrors, notFound, requireJsonBody } from './middleware.js';
import { adminRoutes } from './routes/admin.js';
import { consentRoutes } from './routes/consents.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { loginRoutes } from './routes/login.js';
import { metricsRoutes } from './routes/metrics.js';
import { providerRoutes } from './routes/providers.js';

/** The largest request body accepted, in bytes. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Builds the express application of HTTP API v1.
 *
 * @param context - the broker's services
 * @param key - the shared key every request but health must carry
 * @returns the application, ready to listen
 * @example
 * ```ts
 * const app = createApp(createContext(config), key);
 * app.listen('/run/user/1000/tb/broker.sock');
 * ```
 */
export function createApp(context: BrokerContext, key: string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requireKey(key));
  app.use(requireJsonBody());
  app.use(readJsonBody(BODY_LIMIT));
  // The token route first: it is the one called for every token a kernel or plugin asks for.
  app.use(providerRoutes(context));
  app.use(healthRoutes());
  app.use(loginRoutes(context));
  app.use(eventRoutes(context));
  app.use(consentRoutes(context));
  app.use(adminRoutes(context));
  app.use(metricsRoutes(context));
  app.use(notFound());
  app.use(countFailures(context.metrics));
  app.use(handleErrors(context.log));
  return app;
}
