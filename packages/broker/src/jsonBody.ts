/**
 * Reading JSON request bodies. The broker's bodies are a few bytes of UTF-8 JSON from one trusted
 * caller (the Jupyter server extension), so this reads them with a byte limit and one `JSON.parse`,
 * without the charset decoders, decompression and per-request content-type parsing of a general
 * body parser: on a cache-hit token request that work cost more than the rest of the route.
 *
 * One reader, run as a request stage for every route (`app.ts`).
 */
import type { IncomingMessage } from 'node:http';

import { BrokerError, InvalidRequest } from './errors.js';
import type { RequestStage } from './stage.js';

/** Methods whose requests may carry a body. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A media type parameter list that says anything but UTF-8. */
const NOT_UTF8 = /;\s*charset\s*=\s*(?!"?utf-8"?\s*(;|$))/i;

/**
 * Whether a `Content-Type` names `application/json` (any case, any parameters).
 *
 * @param contentType - the header value
 * @returns true for `application/json` and `application/json; charset=utf-8`, false for anything
 *   else, including `application/merge-patch+json`
 */
function isJsonMediaType(contentType: string): boolean {
  const end = contentType.indexOf(';');
  const essence = (end < 0 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return essence === 'application/json';
}

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

/** Whether the request says it has a body (a non-zero length, or chunks). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Why a request's body cannot be read, before any byte of it is: not JSON, not UTF-8, compressed,
 * or announced over the limit.
 *
 * @param req - the request
 * @param limitBytes - the largest body accepted
 * @returns the error to answer with, or undefined when the body may be read
 */
function refusal(req: IncomingMessage, limitBytes: number): BrokerError | undefined {
  const type = req.headers['content-type'];
  if (type === undefined || !isJsonMediaType(type)) {
    return new BrokerError('unsupported_media_type', 'Send the body as application/json.');
  }
  const encoding = req.headers['content-encoding'];
  if (
    (encoding !== undefined && encoding.toLowerCase() !== 'identity') ||
    (type.includes(';') && NOT_UTF8.test(type))
  ) {
    return new BrokerError('unsupported_media_type', 'Send JSON in UTF-8.');
  }
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > limitBytes) return tooLarge(limitBytes);
  return undefined;
}

function tooLarge(limitBytes: number): BrokerError {
  return new BrokerError('payload_too_large', `The request body is over ${limitBytes / 1024} KiB.`);
}

/**
 * Reads a request's JSON body of at most `limitBytes` bytes.
 *
 * @param req - the request; its body is consumed (a refused one is read by the error answer,
 *   `sendError` in middleware.ts)
 * @param limitBytes - the largest body accepted
 * @returns the parsed body; `{}` for a blank body; undefined when the request has no body (or its
 *   method takes none)
 * @throws {@link BrokerError} 415 `unsupported_media_type` for a body that is not `application/json`,
 *   has a charset other than UTF-8 or a `Content-Encoding`; 413 `payload_too_large` over the limit;
 *   400 `invalid_request` for malformed JSON
 * @example
 * ```ts
 * const body = await readJson(req, MAX_BODY_BYTES);
 * ```
 */
export function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  if (!BODY_METHODS.has(req.method ?? '') || !hasBody(req)) return Promise.resolve(undefined);
  const refused = refusal(req, limitBytes);
  if (refused !== undefined) return Promise.reject(refused);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: BrokerError | undefined, body?: unknown): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err === undefined) return resolve(body);
      // Whatever is left of a refused body is read and dropped so the answer can still be sent.
      req.resume();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) settle(tooLarge(limitBytes));
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      const text =
        chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      // The API's bodies are objects (or arrays, refused later): a bare `"x"` or `1` is malformed.
      const first = firstNonBlank(text);
      if (first === '') return settle(undefined, {});
      if (first !== '{' && first !== '[') {
        return settle(new InvalidRequest('The request body is not valid JSON.'));
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (err) {
        return settle(new InvalidRequest('The request body is not valid JSON.', { cause: err }));
      }
      settle(undefined, body);
    };
    const onError = (err: Error): void =>
      settle(new InvalidRequest('The request body could not be read.', { cause: err }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * The request stage that sets `req.body` from the request's JSON body (see {@link readJson}); requests
 * without a body keep `req.body` undefined.
 *
 * @param limitBytes - the largest body accepted
 * @param streamed - paths whose route streams the body itself, of any type and size (the egress):
 *   their body is left unread
 * @returns the stage; it passes readJson's errors on
 * @example
 * ```ts
 * const stages = [readJsonBody(MAX_BODY_BYTES, path => path.startsWith('/api/v1/egress/'))];
 * ```
 */
export function readJsonBody(
  limitBytes: number,
  streamed: (path: string) => boolean = () => false
): RequestStage {
  return async (req, path) => {
    if (streamed(path)) return;
    const body = await readJson(req, limitBytes);
    if (body !== undefined) req.body = body;
  };
}
