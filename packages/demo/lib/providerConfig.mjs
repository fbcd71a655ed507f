/**
 * The oidc-provider configuration of the demo IdP: a public PKCE client, JWT access tokens of about a minute
 * for the demo API, and refresh tokens that rotate on every use; and a second client that gets no refresh
 * tokens (as with JupyterHub as the OAuth provider), whose sign-in ends when its access token expires.
 */

import { claimsOf, findAccount } from './accounts.mjs';
import { INTERACTION_PREFIX } from './interactions.mjs';
import { mountPathOf } from './jupyterProxy.mjs';

/** The one client: JupyterLab's token broker, a public client (no secret) that must use PKCE. */
export const DEMO_CLIENT_ID = 'jupyter-demo';

/**
 * A client that is issued no refresh token: once its one-minute access token expires, the person has to sign
 * in again (the broker reports `needs_login`).
 */
export const NO_REFRESH_CLIENT_ID = 'jupyter-demo-no-refresh';

/** The scope the demo API asks for on `GET /items`. */
export const DEMO_API_SCOPE = 'demo:read';

/** Access-token lifetime in seconds: short on purpose, so the demo shows refreshes. */
export const ACCESS_TOKEN_TTL = 60;

/**
 * The redirect URIs of the demo client: the Jupyter server's token-broker callback on each given port, under
 * both loopback host names.
 *
 * @param {number[]} jupyterPorts - the ports JupyterLab may run on.
 * @param {string[]} [extraRedirectUris] - further exact redirect URIs (a server behind a proxy).
 * @returns {string[]} the exact redirect URIs.
 * @example
 * redirectUris([8888]); // ['http://127.0.0.1:8888/token-broker/api/v1/callback', 'http://localhost:8888/…']
 */
export function redirectUris(jupyterPorts, extraRedirectUris = []) {
  const uris = jupyterPorts.flatMap(port =>
    ['127.0.0.1', 'localhost'].map(host => `http://${host}:${port}/token-broker/api/v1/callback`)
  );
  return [...uris, ...extraRedirectUris];
}

/**
 * Builds the provider configuration.
 *
 * @param {object} options - the deployment.
 * @param {string} options.apiUrl - the demo API's URL, the only resource indicator and the access tokens' audience.
 * @param {string[]} options.redirectUris - the demo client's exact redirect URIs.
 * @param {{keys: object[]}} options.jwks - the private signing keys (generated at start, never written anywhere).
 * @param {string[]} options.cookieKeys - keys that sign the provider's cookies (generated at start).
 * @param {number} [options.accessTokenTtl] - the demo clients' access-token lifetime in seconds (default
 *   {@link ACCESS_TOKEN_TTL}; tests use 10 s to 300 s).
 * @returns {import('oidc-provider').Configuration} the configuration.
 */
export function providerConfig({
  apiUrl,
  redirectUris,
  jwks,
  cookieKeys,
  accessTokenTtl = ACCESS_TOKEN_TTL
}) {
  return {
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_name: 'JupyterLab token broker (demo)',
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: redirectUris
      },
      {
        client_id: NO_REFRESH_CLIENT_ID,
        client_name: 'JupyterLab token broker (demo, no refresh tokens)',
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris
      }
    ],
    jwks,
    cookies: { keys: cookieKeys },
    findAccount,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified']
    },
    // The access tokens are for the demo API, not for userinfo, so the ID token itself carries the profile.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    interactions: {
      // Under jupyter-server-proxy the form must stay under the proxy's prefix (see jupyterProxy.mjs).
      url: (ctx, interaction) => `${mountPathOf(ctx.req)}${INTERACTION_PREFIX}${interaction.uid}`
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // The broker sends no `resource`: every authorization and token request is for the demo API.
        defaultResource: async () => apiUrl,
        // A refresh keeps the audience of the original grant, so it also yields a JWT for the demo API.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== apiUrl) {
            throw new Error(`unknown resource indicator ${resourceIndicator}`);
          }
          return {
            scope: DEMO_API_SCOPE,
            audience: apiUrl,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } }
          };
        }
      }
    },
    // The demo API greets people by name without calling userinfo.
    extraTokenClaims: async (_ctx, token) => {
      const claims = token.accountId ? claimsOf(token.accountId) : undefined;
      return claims
        ? { preferred_username: claims.preferred_username, name: claims.name }
        : undefined;
    },
    // Always hand the broker a refresh token for the demo client (it never asks for consent with
    // prompt=consent), rotating on use; never for the no-refresh client.
    issueRefreshToken: async (_ctx, client) => client.clientId === DEMO_CLIENT_ID,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 3600,
      Grant: 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const text = `${out.error}: ${out.error_description ?? ''}`.replace(/[&<>"']/g, '');
      ctx.body = `<!doctype html><html lang="en"><title>Demo IdP error</title><main><h1>Demo IdP</h1><p role="alert">${text}</p></main></html>`;
    }
  };
}

/** The confidential client of a JupyterHub that logs its users in through this IdP (OAuthenticator). */
export const HUB_CLIENT_ID = 'jupyterhub';

/**
 * Adds a confidential JupyterHub client to a configuration made by {@link providerConfig}, with the provider
 * strictness that hub tests need (each oidc-provider default below would make them pass when they should not):
 * no clock tolerance (an expired access token is refused at once, also at userinfo); the hub client's refresh
 * tokens do not end with the browser session at the IdP (a real IdP's offline grant); and each authorization of
 * the hub client makes a new grant instead of reusing the one in the IdP session (two logins, two grants).
 * Refresh tokens rotate on every use; a reused one revokes the whole grant (oidc-provider's reuse detection).
 *
 * @param {import('oidc-provider').Configuration} config - the result of {@link providerConfig}.
 * @param {object} options - the hub client.
 * @param {string} options.clientSecret - the hub's client secret (read from a 0600 file, never logged).
 * @param {string[]} options.redirectUris - the hub's exact `oauth_callback_url`s.
 * @param {number} [options.accessTokenTtl] - the hub client's access-token lifetime in seconds.
 * @param {'api' | 'userinfo'} [options.audience] - `api`: JWT access tokens for the demo API (the hub reads the
 *   user from the ID token: `userdata_from_id_token`); `userinfo`: opaque access tokens for the userinfo endpoint.
 * @returns {import('oidc-provider').Configuration} the configuration with the hub client.
 * @example
 * withHubClient(providerConfig(options), { clientSecret, redirectUris: ['http://127.0.0.1:8000/hub/oauth_callback'] });
 */
export function withHubClient(
  config,
  { clientSecret, redirectUris: hubRedirectUris, accessTokenTtl = ACCESS_TOKEN_TTL, audience = 'api' }
) {
  const isHub = client => client?.clientId === HUB_CLIENT_ID;
  const resourceIndicators = config.features.resourceIndicators;
  return {
    ...config,
    clients: [
      ...config.clients,
      {
        client_id: HUB_CLIENT_ID,
        client_secret: clientSecret,
        client_name: 'JupyterHub (hub login)',
        token_endpoint_auth_method: 'client_secret_post',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: hubRedirectUris
      }
    ],
    clockTolerance: 0,
    features: {
      ...config.features,
      resourceIndicators: {
        ...resourceIndicators,
        defaultResource: async (ctx, client, oneOf) =>
          isHub(client) && audience === 'userinfo'
            ? undefined
            : resourceIndicators.defaultResource(ctx, client, oneOf),
        useGrantedResource: async (ctx, model) =>
          !(isHub(ctx.oidc.client) && audience === 'userinfo') &&
          resourceIndicators.useGrantedResource(ctx, model),
        getResourceServerInfo: async (ctx, indicator, client) => {
          const info = await resourceIndicators.getResourceServerInfo(ctx, indicator, client);
          return isHub(client) ? { ...info, accessTokenTTL: accessTokenTtl } : info;
        }
      }
    },
    ttl: {
      ...config.ttl,
      AccessToken: (_ctx, _token, client) =>
        isHub(client) ? accessTokenTtl : config.ttl.AccessToken
    },
    issueRefreshToken: async (ctx, client, code) =>
      isHub(client) || config.issueRefreshToken(ctx, client, code),
    expiresWithSession: async (ctx, token) =>
      !isHub(ctx.oidc.client) && !token.scopes.has('offline_access'),
    loadExistingGrant: async ctx => {
      const grantId =
        ctx.oidc.result?.consent?.grantId ??
        (isHub(ctx.oidc.client) ? undefined : ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId));
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    }
  };
}
