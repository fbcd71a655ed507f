/**
 * The streaming forwarder of one egress call: the caller's body to the upstream and the upstream's
 * answer back, each through `node:http(s)` streams piped with backpressure (a slow reader on either
 * side pauses the other: memory stays at a few stream buffers whatever the size), with deadlines:
 *
 * - the connection within `timeoutMs`, and the answer's head within `timeoutMs` of the request's
 *   last byte (an upload may take longer than that: only the idle deadline runs meanwhile);
 * - no byte either way for `idleTimeoutMs` ends the call;
 * - a request body over `maxRequestBytes` is refused (413), a response body over
 *   `maxResponseBytes` is cut.
 *
 * Failures become gateway errors (`upstream_unavailable`, 502 or 504) naming the origin and the
 * network error's code, never a header or a token. Redirects are never followed: `node:http` does
 * not follow them, and the 3xx is relayed as it is.
 */
import http, {
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestOptions,
  type ServerResponse
} from 'node:http';
import https from 'node:https';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { BrokerError } from '../errors.js';
import { callerResponseHeaders } from './headers.js';
import type { EgressTarget } from './target.js';

/**
 * The high-water mark of every stream an egress body passes in the broker: the upstream's answer,
 * the byte counter and the broker's own server sockets (`server.ts`). Node's default (16 KiB) is
 * below one socket read (64 KiB), so each chunk filled every buffer on the way: the upstream was
 * paused and resumed once per chunk and the server extension's reads waited on the broker (measured:
 * the egress at 0.37 of a bare tornado proxy's throughput, 0.53-0.73 with 1 MiB). It bounds what is
 * held per stream while the other side is slower: a few MiB per transfer, whatever its size.
 */
export const STREAM_HIGH_WATER_MARK = 1 << 20;

/** The deadlines and limits of egress calls (the broker options `egress_*`). */
export interface EgressLimits {
  /** Connection, and the answer's head after the request's last byte, in ms. */
  readonly timeoutMs: number;
  /** No byte either way for this long ends the call, in ms. */
  readonly idleTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
}

/** How the relay of an answer ended: whole, or cut and why (for the audit trail). */
export type RelayEnd =
  | { readonly whole: true }
  | {
      readonly whole: false;
      /** `upstream_unavailable` (reset, idle), `payload_too_large` (over the limit) or `client_closed`. */
      readonly code: 'upstream_unavailable' | 'payload_too_large' | 'client_closed';
      readonly reason: string;
    };

/**
 * Whether a request says it has a body (a non-zero `Content-Length`, or a `Transfer-Encoding`).
 *
 * @param req - the caller's request
 * @returns true when a body follows the head
 */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A pass-through that counts bytes, reports each chunk, and fails past a limit. */
class Meter extends Transform {
  bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly onChunk: () => void,
    private readonly overLimit: () => Error
  ) {
    super({ highWaterMark: STREAM_HIGH_WATER_MARK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.onChunk();
    if (this.bytes > this.limit) done(this.overLimit());
    else done(null, chunk);
  }
}

/** A 502/504 `upstream_unavailable` for the caller; `cause` for the log only. */
function gatewayError(status: 502 | 504, description: string, cause?: unknown): BrokerError {
  return new BrokerError('upstream_unavailable', description, { gateway: status, cause });
}

/** The network error's code (`ECONNREFUSED`, …): the only part of it a caller is told. */
function networkCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'connection failed';
}

/**
 * One egress call between the caller's request and the upstream: sends the upstream request (a
 * second time for a retry, when the call has no body) and relays the answer.
 *
 * @example
 * ```ts
 * const exchange = new EgressExchange(req, target, limits);
 * const answer = await exchange.send(upstreamRequestHeaders(req.headers, token.accessToken));
 * const end = await exchange.relay(answer, res);
 * ```
 */
export class EgressExchange {
  /** The caller's body on its way upstream, or null when the request has none. */
  private readonly upload: Meter | null;
  /** Bytes of the answer's body passed back. */
  private relayed = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Ends the running step when the idle deadline passes. */
  private onIdle: (() => void) | undefined;
  /** The running upstream request. */
  private current: http.ClientRequest | undefined;
  /** Set by {@link EgressExchange.callerLeft}. */
  private left = false;

  /**
   * @param req - the caller's request (its body is read from here)
   * @param target - where it goes
   * @param limits - deadlines and limits
   */
  constructor(
    private readonly req: IncomingMessage,
    private readonly target: EgressTarget,
    private readonly limits: EgressLimits
  ) {
    this.upload = hasBody(req)
      ? new Meter(
          limits.maxRequestBytes,
          () => this.touch(),
          () =>
            new BrokerError(
              'payload_too_large',
              `The request body is over egress_max_request_bytes (${limits.maxRequestBytes} bytes).`
            )
        )
      : null;
  }

  /** Request body bytes sent so far. */
  get bytesIn(): number {
    return this.upload?.bytes ?? 0;
  }

  /** Response body bytes passed back so far. */
  get bytesOut(): number {
    return this.relayed;
  }

  /** Whether the call can be sent again (a retry): only without a body, which is read once. */
  get repeatable(): boolean {
    return this.upload === null;
  }

  private touch(): void {
    this.idleTimer?.refresh();
  }

  private startIdle(): void {
    if (this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => this.onIdle?.(), this.limits.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Stops the deadlines and any upstream request still open. */
  close(): void {
    clearTimeout(this.idleTimer);
    this.current?.destroy();
  }

  /**
   * The caller went away before the answer ended: the upstream call ends too, and the relay says
   * `client_closed` (ending the upstream request also fails its answer's stream, which on Node 22
   * and later is seen before the caller's side).
   */
  callerLeft(): void {
    this.left = true;
    this.close();
  }

  /**
   * Sends the request upstream and waits for the answer's head (its body is not read yet).
   *
   * @param headers - the upstream request's headers (`headers.ts`)
   * @returns the upstream's answer, paused
   * @throws {@link BrokerError} 502 `upstream_unavailable` (unreachable, reset, TLS), 504 (no
   *   connection or head in time, idle), 413 `payload_too_large` (the body over the limit)
   */
  send(headers: OutgoingHttpHeaders): Promise<IncomingMessage> {
    const { target, limits, req, upload } = this;
    const transport = target.scheme === 'https' ? https : http;
    const hostname = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
    // Node takes `highWaterMark` for the connection's socket and the answer (v20 and later); its
    // types do not list it yet.
    const options: RequestOptions & { highWaterMark: number } = {
      method: req.method,
      hostname,
      port: target.port,
      path: target.path + target.query,
      headers,
      highWaterMark: STREAM_HIGH_WATER_MARK
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const upstream = transport.request(options);
      this.current = upstream;
      let settled = false;
      /** The head's deadline, from the request's last byte (`connecting`, below: the connection's). */
      let head: NodeJS.Timeout | undefined;
      const fail = (err: BrokerError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connecting);
        clearTimeout(head);
        upstream.destroy();
        if (upload !== null) {
          req.unpipe(upload);
          upload.unpipe(upstream);
          // Unpiped, the caller's body stays paused: what it still sends is read and dropped, so
          // that it gets to read the refusal (a client that writes its whole body first, as
          // tornado's does, would wait for ever).
          req.resume();
        }
        reject(err);
      };
      const origin = target.origin;
      const connecting = setTimeout(
        () =>
          fail(
            gatewayError(
              504,
              `${origin} did not accept a connection within ${limits.timeoutMs} ms.`
            )
          ),
        limits.timeoutMs
      );
      this.onIdle = () =>
        fail(gatewayError(504, `${origin} sent nothing for ${limits.idleTimeoutMs} ms.`));
      const connected = (): void => {
        clearTimeout(connecting);
        this.startIdle();
        this.touch();
      };
      upstream.on('socket', socket => {
        if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
      upstream.on('finish', () => {
        if (settled) return;
        // The request's last byte is out: the head must follow within the deadline (the
        // connection's own deadline still runs if it is not made yet).
        head = setTimeout(
          () => fail(gatewayError(504, `${origin} did not answer within ${limits.timeoutMs} ms.`)),
          limits.timeoutMs
        );
      });
      upstream.on('response', answer => {
        if (settled) {
          answer.destroy();
          return;
        }
        settled = true;
        clearTimeout(connecting);
        clearTimeout(head);
        this.touch();
        resolve(answer);
      });
      upstream.on('error', err => {
        fail(gatewayError(502, `${origin} could not be reached (${networkCode(err)}).`, err));
      });
      if (upload === null) {
        upstream.end();
        return;
      }
      upload.on('error', err =>
        fail(
          err instanceof BrokerError
            ? err
            : gatewayError(502, 'The request body could not be read.', err)
        )
      );
      upstream.on('close', () => {
        // The upstream stopped reading (it answered early, or failed): what the caller still sends
        // is read and dropped, so that it reads the answer.
        if (!req.complete) {
          req.unpipe(upload);
          req.resume();
        }
      });
      req.pipe(upload).pipe(upstream);
    });
  }

  /**
   * Drops an answer that is not relayed (the 401 before a retry).
   *
   * @param answer - the upstream's answer
   */
  discard(answer: IncomingMessage): void {
    answer.resume();
    answer.on('error', () => undefined);
  }

  /**
   * Relays the upstream's answer: its status, its headers as `headers.ts` passes them, and its body
   * streamed with backpressure.
   *
   * @param answer - the upstream's answer (from {@link EgressExchange.send})
   * @param res - the caller's response
   * @returns how the relay ended; a cut answer's connection is ended mid-body (the caller sees it
   *   short of its length, or an unterminated chunked body)
   */
  async relay(answer: IncomingMessage, res: ServerResponse): Promise<RelayEnd> {
    const { limits, target } = this;
    let cut: RelayEnd | undefined;
    const meter = new Meter(
      limits.maxResponseBytes,
      () => this.touch(),
      () => {
        cut = {
          whole: false,
          code: 'payload_too_large',
          reason: `response cut at egress_max_response_bytes (${limits.maxResponseBytes} bytes)`
        };
        return new Error('response over egress_max_response_bytes');
      }
    );
    this.onIdle = () => {
      cut = {
        whole: false,
        code: 'upstream_unavailable',
        reason: `${target.origin} sent nothing for ${limits.idleTimeoutMs} ms`
      };
      answer.destroy();
    };
    // The upstream breaking off fails its stream (`error`); the caller going away only closes ours.
    let broke = false;
    answer.once('error', () => {
      broke = true;
    });
    res.writeHead(answer.statusCode ?? 502, callerResponseHeaders(answer.headers));
    try {
      await pipeline(answer, meter, res);
      return { whole: true };
    } catch {
      if (cut !== undefined) return cut;
      if (broke && !this.left) {
        return {
          whole: false,
          code: 'upstream_unavailable',
          reason: `${target.origin} broke off its answer`
        };
      }
      return { whole: false, code: 'client_closed', reason: 'the caller closed the connection' };
    } finally {
      this.relayed = Math.min(meter.bytes, limits.maxResponseBytes);
      clearTimeout(this.idleTimer);
    }
  }
}
