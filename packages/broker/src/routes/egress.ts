/**
 * `/api/v1/egress/{provider}/{scheme}/{authority}/{path...}`: a call to an allowlisted API with the
 * provider's token added by the broker, so the caller never holds it (issue 13).
 *
 * Served in front of express, as the token route is (its body is a stream of any type and size,
 * which express's router and the JSON body reader must not touch), after the same stages (the key
 * check and the admin's reach); its errors go to the one error writer, which marks them with
 * `X-Token-Broker-Error`. The order is the security argument: the target is read and matched
 * against the provider's allowlist, the client's consent and the audit trail are checked, and only
 * then is a token got; a refused call never reaches the token service or the IdP.
 */
import type { ServerResponse } from 'node:http';

import { clientOf, UNLABELLED } from '../caller.js';
import type { BrokerContext } from '../context.js';
import { allowingPrefix } from '../egress/allowlist.js';
import { type EgressLimits, EgressExchange, type RelayEnd } from '../egress/forwarder.js';
import { upstreamRequestHeaders } from '../egress/headers.js';
import { type EgressTarget, parseTarget } from '../egress/target.js';
import { BrokerError, EgressNotAllowed, InvalidRequest, toErrorBody } from '../errors.js';
import type { Provider } from '../providers/registry.js';
import type { StagedRequest } from '../stage.js';
import type { TokenRequest } from '../tokens/service.js';

const EGRESS_PREFIX = '/api/v1/egress/';
const EGRESS_PATH = /^\/api\/v1\/egress\/([^/]*)\/([^/]*)\/([^/]*)(?:\/(.*))?$/;
/** Every method the egress forwards. */
const METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'POST', 'PUT', 'PATCH'];
/** Methods retried once with a newer token after a 401 (when the request has no body). */
const RETRIED: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);
/** The token an egress call sends: the grant's own, with the default `min_ttl`. */
const OWN_TOKEN: TokenRequest = { scopes: undefined, minTtl: undefined, audience: undefined };

/** The parts of an egress request's path, still percent-encoded. */
export interface EgressCall {
  readonly provider: string;
  readonly scheme: string;
  readonly authority: string;
  /** The target path without its leading `/` (may be empty). */
  readonly rest: string;
  /** `?query` as sent, or empty. */
  readonly query: string;
}

/** The egress route, served in front of express. */
export interface EgressRoute {
  /** Its methods and path in OpenAPI syntax, one per method. */
  readonly routes: readonly string[];
  /**
   * Whether a path is the egress's (its body is streamed by the route, never read as JSON).
   *
   * @param path - a request path without the query
   */
  streams(path: string): boolean;
  /**
   * The parts of an egress request, or undefined for another route (or a method not forwarded).
   *
   * @param method - the request's method
   * @param url - the request target (`req.url`), query included
   */
  match(method: string | undefined, url: string | undefined): EgressCall | undefined;
  /**
   * Answers the call; rejects with a refusal or a failure before the answer started, for the error
   * writer. Every call is one `egress` event.
   */
  serve(req: StagedRequest, res: ServerResponse, call: EgressCall): Promise<void>;
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new InvalidRequest('The provider id is not well-formed.', { cause: err });
  }
}

/** The client label, or `unknown` for the event when the header is not a valid one. */
function labelOf(req: StagedRequest): string {
  try {
    return clientOf(req);
  } catch {
    return UNLABELLED;
  }
}

/** The body size the caller announces, when it does. */
function announcedLength(req: StagedRequest): number | undefined {
  const length = req.headers['content-length'];
  return length === undefined ? undefined : Number(length);
}

/**
 * The egress route.
 *
 * @param context - the broker's services
 * @returns the route
 * @example
 * ```ts
 * const egress = egressRoute(context);
 * const call = egress.match(req.method, req.url);
 * if (call !== undefined) await egress.serve(req, res, call);
 * ```
 */
export function egressRoute(context: BrokerContext): EgressRoute {
  const { providers, tokens, consents, events, config, log } = context;
  const limits: EgressLimits = {
    timeoutMs: config.egress_timeout_ms,
    idleTimeoutMs: config.egress_idle_timeout_ms,
    maxRequestBytes: config.egress_max_request_bytes,
    maxResponseBytes: config.egress_max_response_bytes
  };

  /** The checks before any token is got; throws the refusal. */
  async function admit(
    req: StagedRequest,
    provider: Provider,
    target: EgressTarget,
    client: string
  ): Promise<void> {
    if (allowingPrefix(provider.config.egress, target) === undefined) {
      throw new EgressNotAllowed(provider.id, target.origin);
    }
    const length = announcedLength(req);
    if (length !== undefined && length > limits.maxRequestBytes) {
      throw new BrokerError(
        'payload_too_large',
        `The request body is over egress_max_request_bytes (${limits.maxRequestBytes} bytes).`
      );
    }
    await consents.require(client, provider.id);
    await events.assertRecordable();
  }

  return {
    routes: METHODS.map(
      method => `${method} /api/v1/egress/{provider}/{scheme}/{authority}/{path}`
    ),
    streams: path => path.startsWith(EGRESS_PREFIX),
    match(method, url) {
      if (method === undefined || !METHODS.includes(method)) return undefined;
      const target = url ?? '/';
      const at = target.indexOf('?');
      const path = at < 0 ? target : target.slice(0, at);
      const parts = EGRESS_PATH.exec(path);
      if (parts === null) return undefined;
      return {
        provider: parts[1],
        scheme: parts[2],
        authority: parts[3],
        rest: parts[4] ?? '',
        query: at < 0 ? '' : target.slice(at)
      };
    },
    async serve(req, res, call) {
      const started = performance.now();
      const method = req.method ?? 'GET';
      const client = labelOf(req);
      let provider: Provider | undefined;
      let target: EgressTarget | undefined;
      let exchange: EgressExchange | undefined;
      let callerGone = false;
      const report = (
        status: number,
        code: string | null,
        refused: boolean,
        reason?: string
      ): void => {
        void events.emit({
          kind: 'egress',
          provider: provider?.id ?? null,
          client,
          method,
          origin: target?.origin ?? '',
          path: target?.path ?? '',
          status,
          bytesIn: exchange?.bytesIn ?? 0,
          bytesOut: exchange?.bytesOut ?? 0,
          durationMs: Math.round(performance.now() - started),
          code,
          refused,
          ...(reason === undefined ? {} : { reason })
        });
      };
      try {
        clientOf(req);
        provider = providers.lookup(decodeId(call.provider));
        target = parseTarget(call.scheme, call.authority, call.rest, call.query);
        await admit(req, provider, target, client);
        let { token } = await tokens.get(provider, OWN_TOKEN);
        exchange = new EgressExchange(req, target, limits);
        const running = exchange;
        res.once('close', () => {
          // The caller went away before the answer ended: the upstream call ends too.
          if (res.writableFinished) return;
          callerGone = true;
          running.callerLeft();
        });
        let answer = await exchange.send(upstreamRequestHeaders(req.headers, token.accessToken));
        if (answer.statusCode === 401 && exchange.repeatable && RETRIED.has(method)) {
          const newer = await tokens.get(provider, OWN_TOKEN, token.accessToken).then(
            issued => issued.token,
            (err: unknown) => {
              // No newer token to try: the upstream's own 401 is the answer.
              log.info('egress_retry_skipped', {
                provider: provider?.id,
                error: toErrorBody(err).body.error
              });
              return token;
            }
          );
          if (newer.accessToken !== token.accessToken) {
            exchange.discard(answer);
            token = newer;
            answer = await exchange.send(upstreamRequestHeaders(req.headers, token.accessToken));
          }
        }
        const end: RelayEnd = await exchange.relay(answer, res);
        const status = answer.statusCode ?? 502;
        if (end.whole) report(status, null, false);
        else report(status, end.code, false, end.reason);
      } catch (err) {
        exchange?.close();
        const { status, body } = toErrorBody(err);
        // The upstream call failed because the caller left (it was ended for it): say so.
        if (callerGone) report(status, 'client_closed', false, 'the caller closed the connection');
        else report(status, body.error, status === 401 || status === 403);
        throw err;
      }
    }
  };
}
