/**
 * The HTTP plumbing around the routes: the content-type gate, the not-found answer and the one
 * error middleware.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';

import { BrokerError, toErrorBody } from './errors.js';
import type { Logger } from './log.js';

/** Methods whose body, when there is one, must be JSON. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Refuses a request body that is not `application/json` with 415, before anything parses it.
 *
 * @returns the middleware
 */
export function requireJsonBody(): RequestHandler {
  return (req, _res, next) => {
    const length = req.headers['content-length'];
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (BODY_METHODS.has(req.method) && hasBody && !req.is('application/json')) {
      return next(
        new BrokerError(415, 'unsupported_media_type', 'Send the body as application/json.')
      );
    }
    next();
  };
}

/**
 * Answers every unmatched route with 404 `not_found`.
 *
 * @returns the middleware
 */
export function notFound(): RequestHandler {
  return (_req, _res, next) => next(new BrokerError(404, 'not_found', 'No such route.'));
}

/**
 * The one error middleware: `{error, error_description}`, `Retry-After` on 503, details of a 5xx
 * only in the log.
 *
 * @param log - the logger
 * @returns the middleware
 */
export function handleErrors(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const answer = toErrorBody(err);
    const fields = {
      method: req.method,
      path: req.path,
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
    res
      .status(answer.status)
      .set(answer.headers)
      .set('Cache-Control', 'no-store')
      .json(answer.body);
  };
}
