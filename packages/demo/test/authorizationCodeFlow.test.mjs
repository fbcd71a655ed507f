/**
 * The demo IdP and API end to end, as the broker uses them: authorization code + PKCE with the IdP's own sign-in
 * form, a JWT access token for the demo API, refresh-token rotation, and RFC 6750 errors from the API.
 */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { freePorts } from '../lib/ports.mjs';
import { startDemoProcess } from './stackProcess.mjs';

// Free ports from the OS, never the demo's own 9400/9401: `make demo` may be running. Nothing listens on the
// Jupyter port: it only names the redirect URI.
const [IDP_PORT, API_PORT, JUPYTER_PORT] = await freePorts(3);
const ISSUER = `http://127.0.0.1:${IDP_PORT}`;
const API = `http://127.0.0.1:${API_PORT}`;
const REDIRECT_URI = `http://127.0.0.1:${JUPYTER_PORT}/token-broker/api/v1/callback`;

/** @type {Awaited<ReturnType<typeof startDemoProcess>>[]} */
const processes = [];
let metadata;

before(async () => {
  processes.push(
    await startDemoProcess('idp.mjs', [
      '--port',
      String(IDP_PORT),
      '--api-url',
      API,
      '--jupyter-port',
      String(JUPYTER_PORT)
    ]),
    await startDemoProcess('api.mjs', ['--port', String(API_PORT), '--issuer', ISSUER])
  );
  metadata = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
});

after(async () => {
  await Promise.all(processes.map(p => p.stop()));
});

/** A browser's cookie jar, just enough for one host. */
class CookieJar {
  #cookies = new Map();

  /** @param {Response} response - stores its Set-Cookie headers. */
  store(response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }

  /** @returns {string} the Cookie header. */
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Follows redirects like a browser until one leaves the IdP.
 *
 * @param {CookieJar} jar - the browser's cookies.
 * @param {string} url - where to start.
 * @param {RequestInit} [init] - the first request.
 * @returns {Promise<{url: string, response: Response}>} the first URL outside the IdP, or the last IdP page.
 */
async function browse(jar, url, init = {}) {
  let response = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...init.headers, cookie: jar.header() }
  });
  jar.store(response);
  for (let hops = 0; hops < 10 && response.status >= 300 && response.status < 400; hops++) {
    url = new URL(response.headers.get('location'), url).href;
    if (!url.startsWith(ISSUER)) {
      return { url, response };
    }
    response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
  }
  return { url, response };
}

/**
 * Runs an authorization request, signs in through the form, and returns the callback URL.
 *
 * @param {string} username - who signs in.
 * @param {string} password - with what.
 * @param {string} [clientId] - the client asking.
 * @returns {Promise<{callback: URL, verifier: string, state: string, loginPage: string}>} the redirect to the broker.
 */
async function signIn(username, password, clientId = 'jupyter-demo') {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorizationUrl = new URL(metadata.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access demo:read',
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256'
  }).toString();

  const jar = new CookieJar();
  const form = await browse(jar, authorizationUrl.href);
  assert.equal(form.response.status, 200);
  const loginPage = await form.response.text();
  const action = /<form method="post" action="([^"]+)"/.exec(loginPage)?.[1];
  assert.ok(action, 'the sign-in page has a form');

  const done = await browse(jar, new URL(action, ISSUER).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString()
  });
  return { callback: new URL(done.url), verifier, state, loginPage, response: done.response };
}

/**
 * POSTs to the token endpoint as a public client.
 *
 * @param {Record<string, string>} params - the grant.
 * @returns {Promise<{status: number, body: any}>} the answer.
 */
async function tokenRequest(params) {
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: 'jupyter-demo', ...params }).toString()
  });
  return { status: response.status, body: await response.json() };
}

test('the sign-in page has a labelled Username, Password and a Sign in button', async () => {
  const { loginPage } = await signIn('alice', 'wrong');
  assert.match(loginPage, /<label for="username">Username<\/label>/);
  assert.match(loginPage, /<label for="password">Password<\/label>/);
  assert.match(loginPage, /<button type="submit">Sign in<\/button>/);
});

test('a wrong password shows the form again with an alert and redirects nowhere', async () => {
  const { callback, response } = await signIn('alice', 'wrong');
  assert.equal(callback.origin, ISSUER);
  assert.equal(response.status, 401);
  assert.match(await response.text(), /role="alert"[^>]*>Wrong username or password/);
});

test('code + PKCE gives a 60 s JWT for the demo API, an ID token with the profile, and a refresh token', async () => {
  const { callback, verifier, state } = await signIn('alice', 'demo');
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  assert.equal(callback.searchParams.get('state'), state);
  assert.equal(callback.searchParams.get('iss'), ISSUER);
  const code = callback.searchParams.get('code');
  assert.ok(code);

  const { status, body } = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier
  });
  assert.equal(status, 200, JSON.stringify(body.error));
  assert.equal(body.token_type, 'Bearer');
  assert.ok(body.expires_in <= 60 && body.expires_in > 50);
  assert.ok(body.refresh_token, 'a refresh token is always issued');
  const at = decodeJwt(body.access_token);
  assert.equal(at.iss, ISSUER);
  assert.equal(at.aud, API);
  assert.equal(at.sub, 'alice');
  assert.equal(at.preferred_username, 'alice');
  assert.match(at.scope, /demo:read/);
  const id = decodeJwt(body.id_token);
  assert.equal(id.preferred_username, 'alice');
  assert.equal(id.email, 'alice@example.org');

  const whoami = await fetch(`${API}/whoami`, {
    headers: { authorization: `Bearer ${body.access_token}` }
  });
  assert.equal(whoami.status, 200);
  const me = await whoami.json();
  assert.equal(me.sub, 'alice');
  assert.equal(me.preferred_username, 'alice');
  assert.equal(me.expires_at, at.exp);

  const items = await fetch(`${API}/items`, {
    headers: { authorization: `Bearer ${body.access_token}` }
  });
  assert.equal(items.status, 200);
  assert.ok((await items.json()).items.length > 0);

  // Refresh: a new JWT for the same API, and a new refresh token; the old one is spent.
  const refreshed = await tokenRequest({
    grant_type: 'refresh_token',
    refresh_token: body.refresh_token
  });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body.error));
  assert.notEqual(refreshed.body.refresh_token, body.refresh_token, 'the refresh token rotates');
  assert.notEqual(refreshed.body.access_token, body.access_token);
  const at2 = decodeJwt(refreshed.body.access_token);
  assert.equal(at2.aud, API);
  assert.equal(at2.sub, 'alice');
  const whoami2 = await fetch(`${API}/whoami`, {
    headers: { authorization: `Bearer ${refreshed.body.access_token}` }
  });
  assert.equal(whoami2.status, 200);

  const reused = await tokenRequest({
    grant_type: 'refresh_token',
    refresh_token: body.refresh_token
  });
  assert.equal(reused.status, 400);
  assert.equal(reused.body.error, 'invalid_grant');
});

test('the no-refresh client gets a JWT for the demo API but never a refresh token', async () => {
  const { callback, verifier } = await signIn('bob', 'demo', 'jupyter-demo-no-refresh');
  const { status, body } = await tokenRequest({
    client_id: 'jupyter-demo-no-refresh',
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code'),
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier
  });
  assert.equal(status, 200, JSON.stringify(body.error));
  assert.equal(body.refresh_token, undefined);
  assert.equal(decodeJwt(body.access_token).aud, API);
  assert.equal(decodeJwt(body.access_token).sub, 'bob');
});

test('a code without its PKCE verifier is refused', async () => {
  const { callback } = await signIn('alice', 'demo');
  const { status, body } = await tokenRequest({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code'),
    redirect_uri: REDIRECT_URI
  });
  assert.equal(status, 400);
  assert.equal(body.error, 'invalid_grant');
});

test('an unregistered redirect URI is refused at the IdP, not redirected to', async () => {
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: 'jupyter-demo',
    response_type: 'code',
    redirect_uri: 'http://127.0.0.1:1/evil',
    scope: 'openid',
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256'
  }).toString();
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 400);
});

test('the demo API answers 401 invalid_token without, with a garbled, or with a foreign token', async () => {
  const none = await fetch(`${API}/whoami`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer error="invalid_token"');

  const garbled = await fetch(`${API}/whoami`, {
    headers: { authorization: 'Bearer abc.def.ghi' }
  });
  assert.equal(garbled.status, 401);
  assert.equal(garbled.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  const body = await garbled.json();
  assert.equal(body.error, 'invalid_token');

  // Right claims, wrong signer.
  const { privateKey } = await generateKeyPair('RS256');
  const foreign = await new SignJWT({ scope: 'demo:read' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'foreign' })
    .setIssuer(ISSUER)
    .setAudience(API)
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(privateKey);
  const forged = await fetch(`${API}/whoami`, { headers: { authorization: `Bearer ${foreign}` } });
  assert.equal(forged.status, 401);
  assert.equal(forged.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
});

test('the IdP and API logs never contain token material', async () => {
  const { callback, verifier } = await signIn('bob', 'demo');
  const code = callback.searchParams.get('code');
  const { body } = await tokenRequest({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier
  });
  await fetch(`${API}/whoami`, { headers: { authorization: `Bearer ${body.access_token}` } });
  const logs = processes.map(p => p.stderr()).join('\n');
  for (const secret of [code, verifier, body.access_token, body.refresh_token, body.id_token]) {
    assert.ok(!logs.includes(secret));
  }
});
