/**
 * The shared-key check: every request but `GET /api/v1/health` must carry `X-Broker-Key`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { Unauthorized } from './errors.js';
import type { RequestStage } from './stage.js';

/** Paths answered without the key. */
const OPEN_PATHS = new Set(['/api/v1/health']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Checks a request's `X-Broker-Key`; throws {@link Unauthorized} when it is missing or wrong. */
export type KeyCheck = (req: IncomingMessage) => void;

/**
 * The check of one key, its digest computed once (every request pays for one hash, not two).
 *
 * @param key - the shared key
 * @returns the check
 * @example
 * ```ts
 * const checkKey = keyCheck(key);
 * checkKey(req); // throws Unauthorized unless X-Broker-Key is the key
 * ```
 */
export function keyCheck(key: string): KeyCheck {
  // Comparing digests takes a time that depends neither on where the strings differ nor on
  // their lengths.
  const expected = digest(key);
  return req => {
    const given = req.headers['x-broker-key'];
    if (
      typeof given !== 'string' ||
      !(timingSafeEqual(digest(given), expected) && given.length === key.length)
    ) {
      throw new Unauthorized();
    }
  };
}

/**
 * The request stage refusing requests without the right key with 401 `unauthorized` (see
 * {@link keyCheck}); `GET /api/v1/health` is open.
 *
 * @param key - the shared key
 * @returns the stage
 * @example
 * ```ts
 * const stages = [requireKey('a-key-of-at-least-32-characters-long')];
 * ```
 */
export function requireKey(key: string): RequestStage {
  const checkKey = keyCheck(key);
  return (req, path) => {
    if (req.method === 'GET' && OPEN_PATHS.has(path)) return;
    checkKey(req);
  };
}
