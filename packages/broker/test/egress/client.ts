/**
 * A streaming client of the broker's socket for the egress tests: sends a body from a stream (or
 * none), reads the answer without keeping it (only its first KiB), and says whether it came whole.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

import type { TestBroker } from '../fixtures/broker.js';

/** An answer read as a stream. */
export interface StreamedAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Body bytes received. */
  readonly bytes: number;
  /** The first KiB of the body, as text. */
  readonly head: string;
  /** Whether the body ended as announced (false: cut). */
  readonly complete: boolean;
}

/**
 * Sends one request to the broker and reads its answer as a stream.
 *
 * @param broker - the test broker
 * @param method - the method
 * @param path - the path and query
 * @param options - headers, and a body stream (sent chunked unless `content-length` is given)
 * @returns the answer once the response closed
 */
export function streamRequest(
  broker: TestBroker,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: Readable } = {}
): Promise<StreamedAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: broker.socket,
        method,
        path,
        headers: { 'x-broker-key': broker.key, 'x-broker-user': 'alice', ...options.headers }
      },
      res => {
        let bytes = 0;
        let head = '';
        res.on('data', (chunk: Buffer) => {
          if (bytes < 1024) head += chunk.subarray(0, 1024 - bytes).toString('utf8');
          bytes += chunk.length;
        });
        res.on('error', () => undefined);
        res.on('close', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            bytes,
            head,
            complete: res.complete
          });
        });
      }
    );
    req.on('error', reject);
    if (options.body === undefined) req.end();
    else options.body.pipe(req);
  });
}
