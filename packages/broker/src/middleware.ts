/**
 * The HTTP plumbing around the routes: the not-found answer and the one function that writes every
 * error answer (the express routes, the plain token route and the sign-in callback's page).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ErrorRequestHandler, RequestHandler } from 'express';

import { EGRESS_ERROR_HEADER } from './contract.generated.js';
import { BrokerError, type ErrorAnswer, toErrorBody } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** What an error answer reports to. */
export interface ErrorServices {
  readonly log: Logger;
  readonly metrics: Metrics;
}

/** An error answer in another form than JSON: the sign-in callback's page for the login popup. */
export type ErrorPage = (body: ErrorAnswer['body']) => {
  readonly contentType: string;
  readonly text: string;
  readonly headers?: Readonly<Record<string, string>>;
};

/**
 * Answers a failed request: the status its code implies, `Retry-After` when a retry may succeed,
 * `Cache-Control: no-store`, `X-Token-Broker-Error: <code>` (a broker's answer, not an egress
 * upstream's), and `{error, error_description}` (or `page` of it) with the
 * description of an unexposed 5xx replaced; the details go only to the log, and every answer is
 * counted by code.
 *
 * @param err - what went wrong (a {@link BrokerError}, or anything else: a 500 `server_error`)
 * @param req - the request
 * @param res - its response; when the answer already started, the connection is ended instead
 * @param services - the log and the metrics
 * @param page - renders the body instead of JSON (headers already set on `res` are kept)
 */
export function sendError(
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  { log, metrics }: ErrorServices,
  page?: ErrorPage
): void {
  const answer = toErrorBody(err);
  metrics.failures.inc({ code: answer.body.error });
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const fields = {
    method: req.method,
    path: query < 0 ? url : url.slice(0, query),
    status: answer.status,
    error: answer.body.error
  };
  if (err instanceof BrokerError && err.repeat) {
    // A refusal during a backoff: the failure that started it was logged; one line a request
    // (about ten a second under a polling client) would bury it.
    log.debug('request_refused', { ...fields, repeat: true });
    countRepeat(log, answer.body.error, fields.path);
  } else if (answer.status >= 500) {
    log.error('request_failed', {
      ...fields,
      reason: (err as Error)?.message,
      cause: (err as Error)?.cause
    });
  } else {
    log.info('request_refused', fields);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.readableEnded) {
    // Refused before its body was read (a wrong key, an admin caller on an owner's route): read it
    // first, or a client that writes the body after the head meets a closed connection and never
    // reads the answer (the extension relayed an admin's 403 as 503 "not running", now and then).
    void drained(req, REFUSED_BODY_BYTES).then(() => writeError(answer, res, page));
    return;
  }
  writeError(answer, res, page);
}

/**
 * Reads and drops the body of a refused request, so that the answer goes out only once the caller
 * has sent all of it. The server extension's client (tornado's, `Connection: close`) may write the
 * body after the head: answered and closed on the head alone, it met a broken pipe writing the body
 * and never read the answer (a 415 relayed as 503 "not running", about 1 request in 10). Past
 * `limitBytes` it stops waiting (the rest is still dropped).
 *
 * @param req - the refused request
 * @param limitBytes - the most bytes waited for
 * @returns resolves once the body ended, failed or passed the limit
 */
function drained(req: IncomingMessage, limitBytes: number): Promise<void> {
  return new Promise(resolve => {
    // A caller gone already (an egress upload aborted) sends nothing more.
    if (req.destroyed) return resolve();
    let size = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      req.off('close', done);
      req.resume();
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) done();
    };
    req.on('data', onData);
    req.on('end', done);
    req.on('error', done);
    req.on('close', done);
  });
}

/** The most bytes of a refused request's body waited for before its answer goes out. */
const REFUSED_BODY_BYTES = 64 * 1024;

/** Writes an error answer: JSON, or `page` of it. */
function writeError(answer: ErrorAnswer, res: ServerResponse, page?: ErrorPage): void {
  if (res.headersSent || res.destroyed) return;
  const rendered = page?.(answer.body) ?? {
    contentType: 'application/json; charset=utf-8',
    text: JSON.stringify(answer.body)
  };
  res
    .writeHead(answer.status, {
      ...rendered.headers,
      ...answer.headers,
      // Every answer the broker makes itself says so: an egress caller tells it from the upstream's.
      [EGRESS_ERROR_HEADER]: answer.body.error,
      'Content-Type': rendered.contentType,
      'Content-Length': Buffer.byteLength(rendered.text),
      'Cache-Control': 'no-store'
    })
    .end(rendered.text);
}

/** Seconds between two summaries of repeated refusals. */
const REPEAT_SUMMARY_S = 60;

/** Refusals counted since the last summary, per logger (each broker has its own). */
const repeats = new WeakMap<Logger, { since: number; count: number; codes: Set<string> }>();

/**
 * Counts a repeated refusal; the first one starts a window, and the first one after
 * {@link REPEAT_SUMMARY_S} seconds writes one `requests_refused_repeatedly` line with the count.
 */
function countRepeat(log: Logger, code: string, path: string): void {
  const now = Date.now();
  const window = repeats.get(log);
  if (window === undefined) {
    repeats.set(log, { since: now, count: 1, codes: new Set([code]) });
    log.info('requests_refused_repeatedly', { error: code, path, count: 1, seconds: 0 });
    return;
  }
  window.count++;
  window.codes.add(code);
  if (now - window.since < REPEAT_SUMMARY_S * 1000) return;
  log.info('requests_refused_repeatedly', {
    error: [...window.codes].join(' '),
    path,
    count: window.count,
    seconds: Math.round((now - window.since) / 1000)
  });
  repeats.set(log, { since: now, count: 0, codes: new Set() });
}

/**
 * Answers every unmatched route with 404 `not_found`.
 *
 * @returns the middleware
 */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new BrokerError('not_found', 'No such route.'));
}

/**
 * The express routes' error middleware: {@link sendError}.
 *
 * @param services - the log and the metrics
 * @returns the middleware
 */
export function handleErrors(services: ErrorServices): ErrorRequestHandler {
  return (err, req, res, _next) => sendError(err, req, res, services);
}
