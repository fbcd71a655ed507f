/**
 * Reading JSON request bodies. The broker's bodies are a few bytes of UTF-8 JSON from one trusted
 * caller (the Jupyter server extension), so this reads them with a byte limit and one `JSON.parse`,
 * without the charset decoders, decompression and per-request content-type parsing of a general
 * body parser: on a cache-hit token request that work cost more than the rest of the route.
 */
import type { RequestHandler } from 'express';

import { BrokerError, InvalidRequest } from './errors.js';

/** Methods whose requests may carry a body. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A media type parameter list that says anything but UTF-8. */
const NOT_UTF8 = /;\s*charset\s*=\s*(?!"?utf-8"?\s*(;|$))/i;

/**
 * The first character of a JSON text that is not JSON whitespace.
 *
 * @param text - the body
 * @returns that character, or '' for a blank body
 */
function firstNonBlank(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') return c;
  }
  return '';
}

/**
 * Middleware that sets `req.body` from a JSON body of at most `limitBytes` bytes; requests without
 * a body keep `req.body` undefined. Run it after the content-type gate, which refuses bodies that
 * are not `application/json` with 415.
 *
 * @param limitBytes - the largest body accepted
 * @returns the middleware; it fails the request with 413 `payload_too_large` over the limit, 415
 *   `unsupported_media_type` for a charset other than UTF-8 or a `Content-Encoding`, and 400
 *   `invalid_request` for malformed JSON
 * @example
 * ```ts
 * app.use(readJsonBody(16 * 1024));
 * ```
 */
export function readJsonBody(limitBytes: number): RequestHandler {
  return (req, _res, next) => {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!BODY_METHODS.has(req.method) || (!chunked && (length === undefined || length === '0'))) {
      return next();
    }
    const encoding = req.headers['content-encoding'];
    const type = req.headers['content-type'] ?? '';
    if (
      (encoding !== undefined && encoding.toLowerCase() !== 'identity') ||
      (type.includes(';') && NOT_UTF8.test(type))
    ) {
      req.resume();
      return next(new BrokerError(415, 'unsupported_media_type', 'Send JSON in UTF-8.'));
    }
    const tooLarge = (): BrokerError =>
      new BrokerError(413, 'payload_too_large', 'The request body is over 16 KiB.');
    if (length !== undefined && Number(length) > limitBytes) {
      req.resume();
      return next(tooLarge());
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      // Whatever is left of a refused body is read and dropped so the answer can still be sent.
      if (err !== undefined) req.resume();
      next(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) settle(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      const text =
        chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      // The API's bodies are objects (or arrays, refused later): a bare `"x"` or `1` is malformed.
      const first = firstNonBlank(text);
      if (first === '') {
        req.body = {};
        return settle();
      }
      try {
        if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
        req.body = JSON.parse(text);
      } catch (err) {
        return settle(new InvalidRequest('The request body is not valid JSON.', { cause: err }));
      }
      settle();
    };
    const onError = (err: Error): void =>
      settle(new InvalidRequest('The request body could not be read.', { cause: err }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}
