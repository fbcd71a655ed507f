/**
 * The HTTP plumbing around the routes: the not-found answer and the one error answer, shared by
 * the express routes and the plain token route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ErrorRequestHandler, RequestHandler } from 'express';

import { BrokerError, toErrorBody } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** What an error answer reports to. */
export interface ErrorServices {
  readonly log: Logger;
  readonly metrics: Metrics;
}

/**
 * Answers a failed request: `{error, error_description}`, `Retry-After` on 503, details of a 5xx
 * only in the log; every answer is counted by code.
 *
 * @param err - what went wrong (a {@link BrokerError}, or anything else: a 500 `server_error`)
 * @param req - the request
 * @param res - its response; when the answer already started, the connection is ended instead
 * @param services - the log and the metrics
 */
export function sendError(
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  { log, metrics }: ErrorServices
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
  if (answer.status >= 500) {
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
  const body = JSON.stringify(answer.body);
  res
    .writeHead(answer.status, {
      ...answer.headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store'
    })
    .end(body);
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
