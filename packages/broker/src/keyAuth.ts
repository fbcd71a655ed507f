/**
 * The shared-key check: every request but `GET /api/v1/health` must carry `X-Broker-Key`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

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
 * Middleware refusing requests without the right key with 401 `unauthorized`.
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
    const given = req.get('x-broker-key');
    if (given === undefined || !keysMatch(given, key)) return next(new Unauthorized());
    next();
  };
}
