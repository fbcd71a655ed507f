/**
 * The one place where openid-client's errors become {@link BrokerError}s. Each description names
 * the cause and, where there is one, the fix. The IdP's own `error_description` is passed on, quoted
 * and attributed to the IdP (it often is the only place the real cause is named, e.g. a client not
 * allowed a grant), after {@link quoteIdP} made it safe to show: one line, bounded, and with every
 * token-looking run of characters cut out.
 */
import type * as Oidc from 'openid-client';

import {
  BrokerError,
  InvalidRequest,
  LoginRequired,
  ScopeNotAllowed,
  UpstreamError,
  UpstreamUnavailable
} from '../errors.js';

/** The refresh token was rejected (`invalid_grant`): the grant is over. */
export class GrantRejected extends LoginRequired {
  /** @param provider - provider id */
  constructor(provider: string, options?: { cause?: unknown }) {
    super(provider, 'ended the sign-in (the refresh token was rejected)', options);
  }
}

/** What the broker was doing when the library threw. */
export type Operation =
  | 'discovery'
  | 'code'
  | 'refresh'
  | 'client_credentials'
  | 'token_exchange'
  | 'device'
  | 'userinfo'
  | 'revocation';

/** Each operation as a description names it. */
const DOING: Readonly<Record<Operation, string>> = {
  discovery: 'discovery',
  code: 'sign-in (code exchange)',
  refresh: 'token refresh',
  client_credentials: 'client credentials request',
  token_exchange: 'token exchange',
  device: 'device sign-in',
  userinfo: 'userinfo request',
  revocation: 'revocation'
};

/** What to do about an OAuth error code an IdP answered, when the code alone says it. */
const FIX: Readonly<Record<string, string>> = {
  invalid_client:
    "check the provider's client_id and client secret (and token_endpoint_auth_method) against the client registered at the identity provider",
  unauthorized_client:
    'allow this grant type for the client at the identity provider, or use another sign-in method',
  unsupported_grant_type:
    'the identity provider does not offer this grant; use another sign-in method',
  invalid_request:
    "check the provider's settings (client_id, scopes, authorization_params) against the client registered at the identity provider",
  access_denied: 'sign in again and allow the access asked',
  temporarily_unavailable: 'try again later'
};

/** Longest IdP text passed on. */
const MAX_QUOTE = 300;
/** JWTs and long opaque runs (tokens, codes): never passed on, even inside an IdP's words. */
const TOKEN_RUN = /eyJ[\w-]*\.[\w-]*\.[\w-]*|[A-Za-z0-9_~+=-]{24,}/g;

/**
 * An IdP's free text, safe to put in a description: control characters and line breaks become
 * spaces, token-looking runs become `[…]`, and it is cut at 300 characters.
 *
 * @param text - the IdP's `error_description` (or anything it sent), or undefined
 * @returns the quotable text, or undefined when there is nothing to quote
 * @example
 * ```ts
 * quoteIdP('PKCE is required\nfor this client'); // 'PKCE is required for this client'
 * ```
 */
export function quoteIdP(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  let safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
  safe = safe.replace(TOKEN_RUN, '[…]').replace(/\s+/g, ' ').trim();
  if (safe.length === 0) return undefined;
  return safe.length > MAX_QUOTE ? `${safe.slice(0, MAX_QUOTE)}…` : safe;
}

/** An OAuth error code as the IdP sent it, if it looks like one (RFC 6749 §5.2 charset). */
function errorCode(value: unknown): string {
  return typeof value === 'string' && /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(value)
    ? value
    : 'unknown';
}

/**
 * `'code'` and, when the IdP said more, its own words: `'invalid_request': "PKCE is required"`.
 *
 * @param err - an error carrying the IdP's `error` and `error_description`
 */
function idpAnswer(err: { error?: unknown; error_description?: unknown }): string {
  const words = quoteIdP(err.error_description);
  return `'${errorCode(err.error)}'${words === undefined ? '' : `: "${words}"`}`;
}

/** ` Fix: …` for an OAuth error code, or ''. */
function fixFor(code: unknown): string {
  const fix = typeof code === 'string' ? FIX[code] : undefined;
  return fix === undefined ? '' : ` To fix it: ${fix}.`;
}

/**
 * openid-client's own words for an answer it refused (e.g. `unexpected HTTP status code`). They are
 * fixed texts of the library, never token material.
 *
 * @param err - what the library threw
 * @returns the words, or undefined when it is not one of the library's checks
 */
function libraryReason(err: unknown): string | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === 'string' && code.startsWith('OAUTH_') && typeof message === 'string'
    ? message
    : undefined;
}

/**
 * Translates what openid-client threw into a {@link BrokerError}, once.
 *
 * @param oc - the loaded library (its error classes)
 * @param err - what was thrown
 * @param operation - what was being done
 * @param provider - provider id, for messages
 * @returns the error to throw
 */
export function translate(
  oc: typeof Oidc,
  err: unknown,
  operation: Operation,
  provider = ''
): BrokerError {
  if (err instanceof BrokerError) return err;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof BrokerError) return cause;
  const doing = DOING[operation];
  if (err instanceof oc.ResponseBodyError) {
    const said = idpAnswer(err);
    // RFC 7009 has no error that a retry or a new sign-in would fix: the IdP refused, and says so.
    if (operation === 'revocation') {
      return new UpstreamError(`The identity provider refused the revocation (${said}).`, {
        cause: err
      });
    }
    if (err.error === 'invalid_grant') {
      if (operation === 'refresh') return new GrantRejected(provider, { cause: err });
      if (operation === 'token_exchange') {
        return new LoginRequired(provider, `refused the subject token (${said})`, { cause: err });
      }
      return new InvalidRequest(
        `The identity provider rejected the ${doing} (${said}); start the sign-in again.`,
        { cause: err }
      );
    }
    if (err.error === 'invalid_scope' || err.error === 'invalid_target') {
      return new ScopeNotAllowed(
        `The identity provider refused the scopes or audience asked (${said}). To fix it: ask only for scopes the client is allowed at the identity provider, or allow them there.`
      );
    }
    return new UpstreamError(
      `The identity provider refused the ${doing} (${said}).${fixFor(err.error)}`,
      { cause: err }
    );
  }
  if (err instanceof oc.AuthorizationResponseError) {
    return new InvalidRequest(
      `The identity provider refused the sign-in (${idpAnswer(err)}).${fixFor(err.error)}`,
      { cause: err }
    );
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT') {
    return new UpstreamUnavailable(
      `The identity provider did not answer the ${doing} in time; if it is only slow, raise upstream_timeout_ms.`,
      { cause: err }
    );
  }
  const why = libraryReason(err);
  const because = why === undefined ? '' : ` (${why})`;
  // A callback whose iss, state, nonce or ID token does not check out is a failed sign-in, not an
  // upstream fault: it may be a forged or mixed-up response.
  if (operation === 'code' && typeof code === 'string' && code.startsWith('OAUTH_')) {
    return new InvalidRequest(
      `The sign-in response did not pass validation${because}; start the sign-in again.`,
      { cause: err }
    );
  }
  return new UpstreamError(
    `The identity provider's ${operation} answer was not usable${because}.`,
    {
      cause: err
    }
  );
}
