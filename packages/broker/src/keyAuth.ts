/**
 * The shared-key check: every request but `GET /api/v1/health` must carry `X-Broker-Key`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { IncomingMessage } from 'node:http';

import type { RequestHandler } from 'express';

import { Unauthorized } from './errors.js';

/** Paths answered without the key. */
const OPEN_PATHS = new Set(['/api/v1/health']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Compares two strings in time that does not depend on where they differ (or on their lengths).
 *
 * @param given - what the caller sent
 * @param expected - the key
 * @returns whether they are equal
 */
export function keysMatch(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected)) && given.length === expected.length;
}

/**
 * Checks a request's `X-Broker-Key`.
 *
 * @param req - the request
 * @param key - the shared key
 * @throws {@link Unauthorized} when the header is missing, repeated or wrong
 */
export function checkKey(req: IncomingMessage, key: string): void {
  const given = req.headers['x-broker-key'];
  if (typeof given !== 'string' || !keysMatch(given, key)) throw new Unauthorized();
}

/**
 * Middleware refusing requests without the right key with 401 `unauthorized` (see
 * {@link checkKey}); `GET /api/v1/health` is open.
 *
 * @param key - the shared key
 * @returns the middleware
 * @example
 * ```ts
 * app.use(requireKey('a-key-of-at-least-32-characters-long'));
 * ```
 */
export function requireKey(key: string): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'GET' && OPEN_PATHS.has(req.path)) return next();
    try {
      checkKey(req, key);
    } catch (err) {
      return next(err);
    }
    next();
  };
}
