/**
 * The one place where openid-client's errors become {@link BrokerError}s. The IdP's own
 * `error_description` is not passed on: it is not ours to vouch for.
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
  if (err instanceof oc.ResponseBodyError) {
    // RFC 7009 has no error that a retry or a new sign-in would fix: the IdP refused, and says so.
    if (operation === 'revocation') {
      return new UpstreamError(`The identity provider refused the revocation ('${err.error}').`, {
        cause: err
      });
    }
    if (err.error === 'invalid_grant') {
      if (operation === 'refresh') return new GrantRejected(provider, { cause: err });
      if (operation === 'token_exchange') {
        return new LoginRequired(provider, 'refused the subject token', { cause: err });
      }
      return new InvalidRequest('The authorization code was rejected; start the sign-in again.', {
        cause: err
      });
    }
    if (err.error === 'invalid_scope' || err.error === 'invalid_target') {
      return new ScopeNotAllowed('The identity provider refused the scopes or audience asked.');
    }
    return new UpstreamError(`The identity provider answered '${err.error}'.`, { cause: err });
  }
  if (err instanceof oc.AuthorizationResponseError) {
    return new InvalidRequest(`The identity provider refused the sign-in ('${err.error}').`, {
      cause: err
    });
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT') {
    return new UpstreamUnavailable('The identity provider did not answer in time.', { cause: err });
  }
  // A callback whose iss, state, nonce or ID token does not check out is a failed sign-in, not an
  // upstream fault: it may be a forged or mixed-up response.
  if (operation === 'code' && typeof code === 'string' && code.startsWith('OAUTH_')) {
    return new InvalidRequest('The sign-in response did not pass validation.', { cause: err });
  }
  return new UpstreamError(`The identity provider's ${operation} answer was not usable.`, {
    cause: err
  });
}
