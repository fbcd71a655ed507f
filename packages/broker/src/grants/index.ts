/**
 * The grant table: one handler per grant type, picked by the provider's configured `grant`.
 *
 * - `authorization_code`: the user's sign-in, kept as a refresh token and refreshed (`refreshToken.ts`);
 * - `client_credentials`: a service account, no sign-in (`clientCredentials.ts`);
 * - `token_exchange` (RFC 8693): another provider's sign-in, narrowed (`tokenExchange.ts`);
 * - `hub`: the user's JupyterHub login, whose token the hub hands out (`hub.ts`).
 *
 * The device flow (`deviceFlow.ts`) is a way to sign in, ending in an `authorization_code` grant.
 */
import type { GrantType } from '../providers/providerConfig.js';
import { ClientCredentialsGrant } from './clientCredentials.js';
import type { GrantHandler, GrantServices } from './grantHandler.js';
import { HubGrant } from './hub.js';
import { RefreshTokenGrant } from './refreshToken.js';
import { TokenExchangeGrant } from './tokenExchange.js';

/** The handlers, by grant type. */
export type GrantTable = Readonly<Record<GrantType, GrantHandler>>;

/**
 * Builds the table.
 *
 * @param services - what the token service lends every handler
 * @param signIns - the sign-ins' handler, which the token service also uses for sign-in and sign-out
 * @returns one handler per grant type
 * @example
 * ```ts
 * const handler = grantTable(services, signIns)[provider.config.grant];
 * ```
 */
export function grantTable(services: GrantServices, signIns: RefreshTokenGrant): GrantTable {
  return {
    authorization_code: signIns,
    client_credentials: new ClientCredentialsGrant(services),
    token_exchange: new TokenExchangeGrant(services, signIns),
    hub: new HubGrant(services)
  };
}
