/**
 * The request stages: what every request passes, in order, before its route (the key check, the
 * admin's reach, the JSON body reader; see `app.ts`). Plain `node:http`, so that the hot token route
 * pays for no framework, and one list of stages, so that no route can skip one.
 */
import type { IncomingMessage } from 'node:http';

/** A request once the stages passed: `body` is its JSON body, when it had one. */
export interface StagedRequest extends IncomingMessage {
  body?: unknown;
}

/**
 * One stage. It refuses the request by throwing (or rejecting with) a `BrokerError`, which the one
 * error writer answers.
 *
 * @param req - the request
 * @param path - its path without the query
 */
export type RequestStage = (req: StagedRequest, path: string) => void | Promise<void>;

/**
 * The path of a request target, without its query.
 *
 * @param url - `req.url`
 * @returns the path
 * @example
 * ```ts
 * pathOf('/api/v1/events?limit=5'); // '/api/v1/events'
 * ```
 */
export function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}
