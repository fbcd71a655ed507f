/**
 * Sign-in: `POST /api/v1/providers/{id}/login` starts an authorization code login (PKCE S256, state,
 * nonce when an ID token is due); `GET /api/v1/callback` completes it. With `{method: "device"}` it
 * starts a device login (RFC 8628) that the broker finishes itself; `GET …/login` tells how it stands.
 */
import { Router, type Request, type Response } from 'express';

import { renderCallbackPage } from '../callbackPage.js';
import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';
import type { ProviderConfig } from '../config.js';
import { BrokerError, type ErrorAnswer, InvalidRequest } from '../errors.js';
import { sendError } from '../middleware.js';
import { requireAllowed } from '../leastPrivilege.js';
import { bodyFields, parseScopes } from '../scopes.js';
import { signInUser } from '../signIn.js';

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
 * The authorization endpoint as the browser reaches it (`browser_authorization_endpoint`), a relative one
 * resolved against the Jupyter server's public URL that the server extension sends; undefined when the
 * provider names none.
 */
function browserEndpoint(
  configured: string | null | undefined,
  serverUrl: string | undefined
): string | undefined {
  if (configured == null) return undefined;
  if (/^https?:\/\//i.test(configured)) return configured;
  if (serverUrl === undefined) {
    throw new InvalidRequest(
      'No X-Broker-Server-Url: the browser_authorization_endpoint is relative to it.'
    );
  }
  let base: URL;
  try {
    base = new URL(serverUrl);
  } catch {
    throw new InvalidRequest('X-Broker-Server-Url is not a URL.');
  }
  if (
    (base.protocol !== 'https:' && base.protocol !== 'http:') ||
    base.search ||
    base.hash ||
    !base.pathname.endsWith('/')
  ) {
    throw new InvalidRequest(
      'X-Broker-Server-Url must be an http(s) URL ending in / without query.'
    );
  }
  return new URL(configured, base).href;
}

/** JupyterHub server names, percent-encoded by the server extension (`X-Broker-Server-Name`). */
function serverName(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  let name: string;
  try {
    name = decodeURIComponent(header);
  } catch {
    throw new InvalidRequest('X-Broker-Server-Name is not percent-encoded UTF-8.');
  }
  if (name.length > 255 || /[\p{Cc}]/u.test(name)) {
    throw new InvalidRequest('X-Broker-Server-Name is not a server name.');
  }
  return name;
}

/** The `method` of a login: `browser` (authorization code, the default) or `device` (RFC 8628). */
function loginMethod(raw: unknown): 'browser' | 'device' {
  if (raw === undefined || raw === null || raw === 'browser') return 'browser';
  if (raw === 'device') return 'device';
  throw new InvalidRequest('method must be "browser" or "device".');
}

/** Refuses a login to a provider whose tokens need no sign-in of their own. */
function requireSignIn(config: ProviderConfig): void {
  if (config.grant === 'client_credentials') {
    throw new InvalidRequest(`Provider '${config.id}' is a service account; it needs no sign-in.`);
  }
  if (config.token_exchange !== null) {
    throw new InvalidRequest(
      `Provider '${config.id}' exchanges the tokens of '${config.token_exchange.subject_provider}'; sign in there.`
    );
  }
}

/** Whether the caller wants JSON rather than the popup page. */
function wantsJson(req: Request): boolean {
  return req.get('accept') !== undefined && !req.accepts('html') && Boolean(req.accepts('json'));
}

/** Headers of every callback answer, failed or not: the page is reached by the IdP's redirect. */
const CALLBACK_HEADERS = { 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' };

/** The popup's page: it tells the opener how the sign-in went (a code, never token material). */
function callbackPage(
  provider: string | null,
  error?: { error: string; error_description: string }
): { contentType: string; text: string; headers: Record<string, string> } {
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
  return {
    contentType: 'text/html; charset=utf-8',
    text: page.html,
    headers: { 'Content-Security-Policy': page.csp }
  };
}

function answerSignedIn(req: Request, res: Response, provider: string): void {
  res.status(200).set({ ...CALLBACK_HEADERS, 'Cache-Control': 'no-store' });
  if (wantsJson(req)) {
    res.json({ ok: true, provider });
    return;
  }
  const page = callbackPage(provider);
  res.set(page.headers).type(page.contentType).send(page.text);
}

/**
 * The login routes.
 *
 * @param context - the broker's services
 * @returns the router
 */
export function loginRoutes(context: BrokerContext): Router {
  const { providers, signIns } = context;
  const router = Router();

  router.post('/api/v1/providers/:id/login', async (req, res) => {
    const provider = providers.lookupSignIn(req.params.id);
    const body = bodyFields(req.body, ['scopes', 'method']);
    const method = loginMethod(body.method);
    const asked = parseScopes(body.scopes);
    if (asked !== undefined) requireAllowed(provider.config, asked);
    requireSignIn(provider.config);
    const user = signInUser(req.get('x-broker-user'));
    const client = clientOf(req);
    const scopes = provider.loginScopes(asked);
    if (method === 'device') {
      const started = await context.devices.start(provider, scopes, client);
      res.set('Cache-Control', 'no-store').json(started);
      return;
    }
    const serverUrl = req.get('x-broker-server-url');
    const endpoint = browserEndpoint(provider.config.browser_authorization_endpoint, serverUrl);
    const started = await signIns.start(provider, {
      user,
      client,
      scopes,
      redirectUri: redirectUri(provider.config.redirect_uri, req.get('x-broker-redirect-uri')),
      serverName: serverName(req.get('x-broker-server-name')),
      ...(endpoint === undefined ? {} : { browserEndpoint: endpoint })
    });
    res.set('Cache-Control', 'no-store').json(started);
  });

  router.get('/api/v1/providers/:id/login', (req, res) => {
    const provider = providers.lookup(req.params.id);
    const status = context.devices.status(provider.id);
    if (status === undefined) {
      throw new BrokerError('not_found', 'No device login was started for this provider.');
    }
    res.set('Cache-Control', 'no-store').json(status);
  });

  router.get('/api/v1/callback', async (req, res) => {
    const query = req.originalUrl.indexOf('?');
    const result = await signIns.complete({
      user: req.get('x-broker-user'),
      state: req.query.state,
      query: query < 0 ? '' : req.originalUrl.slice(query)
    });
    if (result.ok) {
      answerSignedIn(req, res, result.provider);
      return;
    }
    res.set(CALLBACK_HEADERS);
    const page = wantsJson(req)
      ? undefined
      : (body: ErrorAnswer['body']) => callbackPage(result.provider, body);
    sendError(result.error, req, res, context, page);
  });

  return router;
}
