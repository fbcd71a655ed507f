/**
 * The `iss` parameter of a sign-in's callback (RFC 9207), checked before the code is redeemed so a
 * refused callback says why and what to do: openid-client's own check words every case as one
 * "did not pass validation". The checks are the library's (it runs them again); only the words are
 * ours.
 */
import { InvalidRequest } from '../errors.js';

/** The issuer `oidc.ts` gives a provider with explicit endpoints and no `issuer` (no `iss` matches it). */
const UNKNOWN_ISSUER = 'urn:jupyter-token-broker:unknown-issuer:';

/** What of the IdP's metadata the check needs. */
export interface IssuerMetadata {
  readonly issuer: string;
  readonly authorization_response_iss_parameter_supported?: boolean;
}

/**
 * Why a callback's `iss` cannot be trusted, as the error to answer; undefined when it checks out.
 *
 * @param metadata - the provider's (discovered or configured) metadata
 * @param params - the callback's query
 * @param provider - provider id
 * @returns the error, or undefined
 * @example
 * ```ts
 * const refused = issuerProblem(configuration.serverMetadata(), callbackUrl.searchParams, 'demo');
 * if (refused !== undefined) throw refused;
 * ```
 */
export function issuerProblem(
  metadata: IssuerMetadata,
  params: URLSearchParams,
  provider: string
): InvalidRequest | undefined {
  const iss = params.get('iss');
  const error = params.get('error');
  // The callback is not authenticated: what it claims is echoed only when it is a plain OAuth code.
  const claimed = error !== null && /^[a-z_]{1,40}$/.test(error) ? ` ('${error}')` : '';
  if (iss === null && metadata.authorization_response_iss_parameter_supported === true) {
    const what = error === null ? 'sign-in response' : `error answer${claimed}`;
    return new InvalidRequest(
      `The ${what} of provider '${provider}' has no 'iss' parameter, though the identity provider ` +
        `advertises authorization_response_iss_parameter_supported (RFC 9207): nothing shows it ` +
        `came from ${metadata.issuer}, so it was not used. To fix it: start the sign-in again` +
        (error === null
          ? ''
          : ' (if you refused it at the identity provider, that was the answer)') +
        `; if this repeats, the identity provider leaves 'iss' out of its ${error === null ? 'answers' : 'error answers'} ` +
        `against its own metadata: ask its admin to fix that.`
    );
  }
  if (iss !== null && metadata.issuer.startsWith(UNKNOWN_ISSUER)) {
    // Explicit endpoints without `issuer`: nothing to check the parameter against.
    return new InvalidRequest(
      `The sign-in response of provider '${provider}' names an issuer ('iss'), but the provider has ` +
        `no configured issuer to check it against, so it was not used. To fix it: set the ` +
        `provider's issuer to the identity provider's issuer URL.`
    );
  }
  if (iss !== null && iss !== metadata.issuer) {
    const named = /^https?:\/\/[\x21-\x26\x28-\x7e]{1,200}$/.test(iss)
      ? ` names issuer '${iss}' and`
      : '';
    return new InvalidRequest(
      `The sign-in response${named} does not come from provider '${provider}' (issuer ` +
        `${metadata.issuer}): it belongs to another sign-in or was forged, so it was not used. ` +
        `To fix it: start the sign-in again, one provider at a time.`
    );
  }
  return undefined;
}
