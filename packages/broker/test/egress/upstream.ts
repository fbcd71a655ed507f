/**
 * A resource server on 127.0.0.1 for the egress tests: it accepts only a bearer token the test IdP
 * issued and has not revoked (looked up in the in-process oidc-provider, as a real API would ask
 * introspection), records what each request carried, and serves what the tests need: an echo of
 * the request, a stream of N bytes, an upload counter, a redirect to another origin, an answer with
 * cookies and hop-by-hop headers, one that never comes, and one whose body stops.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';

import type { IdP } from '../fixtures/idp.js';

/** What one request to the upstream carried. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The bearer token, when it had one. */
  readonly token: string | undefined;
  /** Whether the IdP vouched for the token. */
  readonly valid: boolean;
}

/** A running upstream. */
export interface Upstream {
  /** `http://127.0.0.1:{port}`. */
  readonly origin: string;
  readonly port: number;
  /** Every request, in order. */
  readonly seen: SeenRequest[];
  /** Body bytes of the last upload. */
  uploaded: number;
  close(): Promise<void>;
}

/** One 64 KiB block, sent again and again by `/api/stream` (no allocation per chunk). */
const BLOCK = Buffer.alloc(64 * 1024, 0x61);

/** Writes `total` bytes with backpressure, then ends. */
function stream(res: ServerResponse, total: number): void {
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const size = Math.min(left, BLOCK.length);
      left -= size;
      const more = res.write(size === BLOCK.length ? BLOCK : BLOCK.subarray(0, size));
      if (!more) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/**
 * Starts the upstream.
 *
 * @param idp - the IdP whose access tokens it accepts
 * @returns the running upstream
 */
export async function startUpstream(idp: IdP): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const state = { uploaded: 0 };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    const found = token === undefined ? undefined : await idp.provider.AccessToken.find(token);
    const valid = found?.isValid === true;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, token, valid });
    if (url.pathname === '/api/hang') return; // never answers
    if (!valid) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      res.end('{"error":"invalid_token"}');
      req.resume();
      return;
    }
    switch (url.pathname) {
      case '/api/echo':
      case '/api/tap/echo':
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
        return;
      case '/api/stream':
        req.resume();
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': url.searchParams.get('bytes') ?? '0'
        });
        stream(res, Number(url.searchParams.get('bytes') ?? 0));
        return;
      case '/api/upload': {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        req.on('end', () => {
          state.uploaded = bytes;
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ bytes }));
        });
        return;
      }
      case '/api/redirect':
        req.resume();
        res.writeHead(302, { location: 'http://127.0.0.2:9/elsewhere' }).end();
        return;
      case '/api/page':
        req.resume();
        res.writeHead(200, {
          'content-type': 'text/html',
          'set-cookie': ['session=upstream; Path=/', 'other=1'],
          connection: 'x-hop-named, keep-alive',
          'x-hop-named': 'dropped',
          'keep-alive': 'timeout=77',
          'strict-transport-security': 'max-age=31536000',
          'clear-site-data': '"*"',
          'access-control-allow-origin': '*',
          'x-token-broker-error': 'forbidden',
          'content-security-policy': "default-src 'self'",
          'x-kept': 'yes'
        });
        res.end('<script>alert(document.cookie)</script>');
        return;
      case '/api/stall':
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return; // the rest never comes
      default:
        req.resume();
        res.writeHead(404).end();
    }
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>(resolve => server.close(() => resolve()));
    }
  });
}
