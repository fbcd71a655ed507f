/**
 * Sign-in: `POST /api/v1/providers/{id}/login` starts an authorization code login (PKCE S256, state,
 * nonce); `GET /api/v1/callback` completes it.
 */
import { Router, type Request, type Response } from 'express';

import { renderCallbackPage } from '../callbackPage.js';
import type { BrokerContext } from '../context.js';
import { InvalidRequest, toErrorBody } from '../errors.js';
import { bodyFields, parseScopes, requireAllowed } from '../scopes.js';

/** User names: anything without control characters (JupyterHub allows e-mail-like and non-ASCII names). */
const USER = /^[^\p{Cc}]{1,256}$/u;

/** The trusted `X-Broker-User`, required where a login is bound to its user. */
function brokerUser(req: Request): string {
  const user = req.get('x-broker-user');
  if (user === undefined || !USER.test(user)) {
    throw new InvalidRequest('X-Broker-User is missing or not valid.');
  }
  return user;
}

function redirectUri(configured: string | null, header: string | undefined): string {
  const value = configured ?? header;
  if (value === undefined)
    throw new InvalidRequest('No redirect URI: X-Broker-Redirect-Uri is missing.');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidRequest('X-Broker-Redirect-Uri is not a URL.');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new InvalidRequest('X-Broker-Redirect-Uri must be an http(s) URL without query.');
  }
  return value;
}

/**
 * The account label of a sign-in: preferred_username, email, name, then sub.
 *
 * @param claims - ID token claims
 * @returns the label, or null
 */
export function accountLabel(claims: Readonly<Record<string, unknown>> | undefined): string | null {
  for (const name of ['preferred_username', 'email', 'name', 'sub']) {
    const value = claims?.[name];
    if (typeof value === 'string' && value !== '') return value.slice(0, 256);
  }
  return null;
}

/** Whether the caller wants JSON rather than the popup page. */
function wantsJson(req: Request): boolean {
  return req.get('accept') !== undefined && !req.accepts('html') && Boolean(req.accepts('json'));
}

function answerCallback(
  req: Request,
  res: Response,
  status: number,
  provider: string | null,
  error?: { error: string; error_description: string }
): void {
  res.status(status).set({
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff'
  });
  if (wantsJson(req)) {
    res.json(error ?? { ok: true, provider });
    return;
  }
  const message = {
    source: 'jupyter-token-broker' as const,
    type: 'login' as const,
    provider,
    ok: error === undefined,
    ...(error === undefined ? {} : { error: error.error })
  };
  const text =
    error === undefined
      ? 'Signed in. You can close this window.'
      : `Sign-in failed: ${error.error_description}`;
  const page = renderCallbackPage(message, text);
  res.set('Content-Security-Policy', page.csp).type('html').send(page.html);
}

/**
 * The login routes.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function loginRoutes(context: BrokerContext): Router {
  const { providers, logins, tokens, log } = context;
  const router = Router();

  router.post('/api/v1/providers/:id/login', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    const body = bodyFields(req.body, ['scopes']);
    const asked = parseScopes(body.scopes);
    if (asked !== undefined) requireAllowed(provider.config, asked);
    const user = brokerUser(req);
    const scopes = asked === undefined ? [...provider.config.scopes] : ['openid', ...asked];
    const pending = logins.start({
      provider: provider.id,
      user,
      redirectUri: redirectUri(provider.config.redirect_uri, req.get('x-broker-redirect-uri')),
      scopes: [...new Set(scopes)]
    });
    const url = await provider.authorizationUrl({
      redirectUri: pending.redirectUri,
      scopes: pending.scopes,
      checks: pending
    });
    log.info('login_started', { provider: provider.id, scopes: pending.scopes });
    res
      .set('Cache-Control', 'no-store')
      .json({ authorization_url: url, expires_at: pending.expiresAt });
  });

  router.get('/api/v1/callback', async (req, res) => {
    let providerId: string | null = null;
    try {
      const user = brokerUser(req);
      const pending = logins.take(req.query.state, user);
      providerId = pending.provider;
      const provider = providers.lookup(pending.provider);
      // The exact redirect URI of the login, with the query the IdP sent (code, state, iss).
      const callbackUrl = new URL(pending.redirectUri);
      const query = req.originalUrl.indexOf('?');
      callbackUrl.search = query < 0 ? '' : req.originalUrl.slice(query);
      const tokenSet = await provider.exchangeCode(callbackUrl, pending, pending.scopes);
      const account = accountLabel(tokenSet.claims);
      const subject = typeof tokenSet.claims?.sub === 'string' ? tokenSet.claims.sub : null;
      await tokens.signedIn(provider.id, tokenSet, account, subject);
      log.info('login_completed', {
        provider: provider.id,
        scopes: tokenSet.scopes,
        refreshable: tokenSet.refreshToken !== null
      });
      answerCallback(req, res, 200, provider.id);
    } catch (err) {
      const answer = toErrorBody(err);
      const fields = { provider: providerId, status: answer.status, error: answer.body.error };
      if (answer.status >= 500) {
        log.error('login_failed', { ...fields, reason: (err as Error)?.message });
      } else {
        log.info('login_failed', { ...fields, reason: answer.body.error_description });
      }
      res.set(answer.headers);
      answerCallback(req, res, answer.status, providerId, answer.body);
    }
  });

  return router;
}
