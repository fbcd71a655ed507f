/**
 * Who is calling, from the trusted headers the server extension sets: the client label for the
 * audit trail and consents (`X-Broker-Client`) and the caller's role (`X-Broker-Caller`), and
 * what an admin may reach.
 */
import type { IncomingMessage } from 'node:http';

import { CLIENT_LABEL } from './contract.generated.js';
import { BrokerError, InvalidRequest } from './errors.js';
import type { BrokerEvents } from './events.js';
import type { RequestStage } from './stage.js';

/** A client label: `jupyterlab`, `kernel`, or a plugin id (from `openapi.yaml`). */
export { CLIENT_LABEL };

/** The label of a request that names no client (only the server extension can call, and it always does). */
export const UNLABELLED = 'unknown';

/**
 * The client label of a request.
 *
 * @param req - the request
 * @returns the label, or `unknown` when the header is absent
 * @throws {@link InvalidRequest} when the header is present but not a valid label
 * @example
 * ```ts
 * clientOf(req); // 'jupyterlab'
 * ```
 */
export function clientOf(req: IncomingMessage): string {
  const value = req.headers['x-broker-client'];
  if (value === undefined) return UNLABELLED;
  if (typeof value !== 'string' || !CLIENT_LABEL.test(value))
    throw new InvalidRequest('X-Broker-Client is not a valid client label.');
  return value;
}

/**
 * Whether the server extension vouched for an admin (`X-Broker-Caller: admin`).
 *
 * @param req - the request
 * @returns true only for exactly `admin`
 */
export function isAdmin(req: IncomingMessage): boolean {
  return req.headers['x-broker-caller'] === 'admin';
}

/**
 * What an admin may call: the provider list (never token material) and admin revocation. The
 * hub's admin tools need no more, and an admin is not the owner: no tokens, sign-ins or consents.
 */
export const ADMIN_ROUTES: ReadonlySet<string> = new Set([
  'GET /api/v1/providers',
  'POST /api/v1/admin/revoke'
]);

/**
 * The request stage refusing an admin caller on every route outside {@link ADMIN_ROUTES} with 403
 * `forbidden`, recorded as a denial. The server extension sends `X-Broker-Caller: admin` only on
 * those routes; this holds even if it did not.
 *
 * @param events - where the denial is reported
 * @returns the stage
 * @example
 * ```ts
 * const stages = [adminReach(context.events)];
 * ```
 */
export function adminReach(events: BrokerEvents): RequestStage {
  return async (req, path) => {
    if (!isAdmin(req) || ADMIN_ROUTES.has(`${req.method} ${path}`)) return;
    const client = req.headers['x-broker-client'];
    await events.emit({
      kind: 'access.denied',
      provider: null,
      client: typeof client === 'string' && CLIENT_LABEL.test(client) ? client : UNLABELLED,
      code: 'forbidden',
      reason: `${req.method} ${path} as admin`
    });
    throw new BrokerError('forbidden', 'An admin may only list providers and revoke.');
  };
}
