/**
 * Bearer-token validation of the demo API: a JWT access token signed by the demo IdP, for this API.
 */

import { createRemoteJWKSet, jwtVerify } from 'jose';

/** An access token was missing, malformed, expired, or not for us (RFC 6750 `invalid_token`). */
export class InvalidTokenError extends Error {
  /**
   * @param {string} description - why, safe to show to the caller (never contains the token).
   * @param {{cause?: unknown}} [options] - the underlying error.
   */
  constructor(description, options) {
    super(description, options);
    this.name = 'InvalidTokenError';
    this.code = 'invalid_token';
  }
}

/** The token was valid but lacks a scope the route needs (RFC 6750 `insufficient_scope`). */
export class InsufficientScopeError extends Error {
  /** @param {string} scope - the missing scope. */
  constructor(scope) {
    super(`this route needs the scope ${scope}`);
    this.name = 'InsufficientScopeError';
    this.code = 'insufficient_scope';
    this.scope = scope;
  }
}

/**
 * Makes a verifier for `Authorization: Bearer <jwt>` headers.
 *
 * The IdP's keys are fetched from its JWKS (discovered at `{issuer}/.well-known/openid-configuration`) and cached
 * by jose; issuer, audience, expiry and the `at+jwt` type are all checked.
 *
 * @param {object} options - what a token must be.
 * @param {string} options.issuer - the demo IdP's issuer.
 * @param {string} options.audience - this API's resource indicator.
 * @param {typeof fetch} [options.fetch] - the fetch used for discovery (a seam for tests).
 * @returns {(authorization: string | undefined) => Promise<import('jose').JWTPayload>} resolves the token's claims,
 *   rejects with {@link InvalidTokenError}.
 */
export function bearerVerifier({ issuer, audience, fetch: fetchImpl = fetch }) {
  /** @type {ReturnType<typeof createRemoteJWKSet> | undefined} */
  let jwks;

  async function keySet() {
    if (!jwks) {
      const response = await fetchImpl(`${issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(5000)
      });
      if (!response.ok) {
        throw new Error(`discovery answered ${response.status}`);
      }
      const { jwks_uri: jwksUri } = await response.json();
      jwks = createRemoteJWKSet(new URL(jwksUri));
    }
    return jwks;
  }

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization ?? '');
    if (!match) {
      throw new InvalidTokenError('send Authorization: Bearer <access token>');
    }
    try {
      const { payload } = await jwtVerify(match[1], await keySet(), {
        issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256']
      });
      return payload;
    } catch (err) {
      // jose's codes (ERR_JWT_EXPIRED, ERR_JWT_CLAIM_VALIDATION_FAILED, …) describe the token, never include it.
      throw new InvalidTokenError(err?.code ?? 'the access token is not valid', { cause: err });
    }
  };
}

/**
 * Checks that validated claims carry a scope.
 *
 * @param {import('jose').JWTPayload} claims - the token's claims.
 * @param {string} scope - the scope the route needs.
 * @throws {InsufficientScopeError} when the scope is missing.
 */
export function requireScope(claims, scope) {
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  if (!granted.includes(scope)) {
    throw new InsufficientScopeError(scope);
  }
}
