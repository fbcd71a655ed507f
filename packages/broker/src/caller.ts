/**
 * Who is calling, from the trusted headers the server extension sets: the client label for the
 * audit trail and consents (`X-Broker-Client`) and the caller's role (`X-Broker-Caller`).
 */
import type { IncomingMessage } from 'node:http';

import { CLIENT_LABEL } from './contract.generated.js';
import { InvalidRequest } from './errors.js';

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
