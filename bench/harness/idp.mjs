/**
 * The benchmark's identity provider: a real oidc-provider on 127.0.0.1 with one public PKCE client,
 * refresh tokens rotated on every use, a confidential client of the `client_credentials` grant, an access-token lifetime that can change at run time, an
 * optional delay on the token endpoint (a real IdP answers in tens to hundreds of ms), and a count
 * of refresh_token grants, successful and failed.
 *
 * Logins complete without a form: `/interaction/{uid}` signs in `alice` and grants every scope asked,
 * so `authorize(url)` only follows redirects with cookies.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

/** Runs `task` without oidc-provider's warnings about its development defaults (wanted here). */
async function quietly(task) {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return await task();
  } finally {
    console.warn = warn;
  }
}

const { default: Provider } = await quietly(() => import('oidc-provider'));

export const CLIENT_ID = 'bench-client';
export const SCOPES = ['openid', 'profile', 'email', 'offline_access'];
/** A confidential client of the `client_credentials` grant (a service account), and its scope. */
export const SERVICE_CLIENT_ID = 'bench-service';
export const SERVICE_CLIENT_SECRET = 'bench-service-secret-not-a-real-one';
export const SERVICE_SCOPES = ['bench:read'];

/**
 * Starts the IdP.
 *
 * @param {object} options - the deployment.
 * @param {number} options.port - its port on 127.0.0.1.
 * @param {string[]} options.redirectUris - exact redirect URIs of the client.
 * @returns {Promise<object>} the running IdP: `issuer`, `accessTokenTtl`, `tokenDelayMs`, counters
 *   `refreshes` and `refreshFailures`, `lastTokenAnswerAt` (epoch ms), `authorize(url)`, `close()`.
 */
export async function startIdp({ port, redirectUris }) {
  const issuer = `http://127.0.0.1:${port}`;
  const state = {
    accessTokenTtl: 3600,
    tokenDelayMs: 0,
    refreshes: 0,
    refreshFailures: 0,
    lastTokenAnswerAt: 0
  };

  const provider = await quietly(
    () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            token_endpoint_auth_method: 'none',
            redirect_uris: redirectUris,
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code']
          },
          {
            client_id: SERVICE_CLIENT_ID,
            client_secret: SERVICE_CLIENT_SECRET,
            token_endpoint_auth_method: 'client_secret_basic',
            grant_types: ['client_credentials'],
            redirect_uris: [],
            response_types: [],
            scope: SERVICE_SCOPES.join(' ')
          }
        ],
        pkce: { required: () => true },
        scopes: [...SCOPES, ...SERVICE_SCOPES],
        claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
        conformIdTokenClaims: false,
        findAccount: async (_ctx, id) => ({
          accountId: id,
          claims: async () => ({ sub: id, preferred_username: id, email: `${id}@example.org` })
        }),
        features: {
          devInteractions: { enabled: false },
          revocation: { enabled: true },
          clientCredentials: { enabled: true }
        },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        issueRefreshToken: async () => true,
        rotateRefreshToken: true,
        ttl: {
          AccessToken: () => state.accessTokenTtl,
          ClientCredentials: () => state.accessTokenTtl,
          IdToken: 3600,
          RefreshToken: 86400,
          Grant: 86400,
          Session: 86400,
          Interaction: 600,
          AuthorizationCode: 60
        },
        cookies: { keys: [randomBytes(16).toString('hex')] }
      })
  );
  provider.on('server_error', () => undefined);
  provider.on('grant.success', ctx => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') state.refreshes++;
  });
  provider.on('grant.error', ctx => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') state.refreshFailures++;
  });

  const interaction = async (req, res) => {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: 'alice' } },
        { mergeWithLastSubmission: false }
      );
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({
          accountId: details.session.accountId,
          clientId: details.params.client_id
        });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true }
    );
  };

  const callback = provider.callback();
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interaction(req, res).catch(err => res.writeHead(500).end(String(err)));
    } else if (req.url === '/token') {
      res.once('finish', () => (state.lastTokenAnswerAt = Date.now()));
      setTimeout(() => callback(req, res), state.tokenDelayMs);
    } else {
      callback(req, res);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  /**
   * Follows an authorization URL through the automatic login and consent.
   *
   * @param {string} authorizationUrl - from the broker's login answer.
   * @returns {Promise<URL>} the redirect to the client's redirect URI (code, state, iss).
   */
  const authorize = async authorizationUrl => {
    const cookies = new Map();
    let url = new URL(authorizationUrl);
    for (let hop = 0; hop < 20; hop++) {
      const response = await fetch(url, {
        redirect: 'manual',
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
      });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const eq = pair.indexOf('=');
        cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
      await response.arrayBuffer();
      const location = response.headers.get('location');
      if (location === null) throw new Error(`IdP stopped at ${url.pathname} (${response.status})`);
      url = new URL(location, url);
      if (redirectUris.some(uri => url.href.startsWith(uri))) return url;
    }
    throw new Error('too many redirects');
  };

  return Object.assign(state, {
    issuer,
    authorize,
    close: async () => {
      server.closeAllConnections();
      await new Promise(resolve => server.close(resolve));
    }
  });
}
