/**
 * The demo API from a browser page in JupyterLab (another origin): CORS lets JupyterLab's origin send
 * `Authorization` and read the answers, 401s included; any other origin gets nothing it could use.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePorts } from '../lib/ports.mjs';
import { startDemoProcess } from './stackProcess.mjs';

// A free port from the OS (`make demo` may be running); nothing listens on the Jupyter port, it is an origin.
const [API_PORT, JUPYTER_PORT] = await freePorts(2);
const API = `http://127.0.0.1:${API_PORT}`;
const JUPYTERLAB = `http://127.0.0.1:${JUPYTER_PORT}`;
const EXTRA_ORIGIN = 'https://hub.example.org';
const EVIL = 'https://evil.example';

/** @type {Awaited<ReturnType<typeof startDemoProcess>>} */
let api;

before(async () => {
  api = await startDemoProcess('api.mjs', [
    '--port',
    String(API_PORT),
    '--issuer',
    'http://127.0.0.1:1',
    '--jupyter-port',
    String(JUPYTER_PORT),
    '--cors-origin',
    EXTRA_ORIGIN
  ]);
});

after(() => api.stop());

/**
 * Sends a preflight as a browser would before `fetch(url, {headers: {Authorization}})`.
 *
 * @param {string} origin - the page's origin.
 * @returns {Promise<Response>} the answer.
 */
function preflight(origin) {
  return fetch(`${API}/items`, {
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'GET',
      'Access-Control-Request-Headers': 'authorization'
    }
  });
}

test("JupyterLab's origins and configured ones may send Authorization to the API", async () => {
  for (const origin of [JUPYTERLAB, `http://localhost:${JUPYTER_PORT}`, EXTRA_ORIGIN]) {
    const response = await preflight(origin);
    assert.equal(response.status, 204, origin);
    assert.equal(response.headers.get('access-control-allow-origin'), origin);
    assert.equal(response.headers.get('access-control-allow-headers'), 'Authorization');
    assert.equal(response.headers.get('access-control-allow-methods'), 'GET');
    // A bearer token is the credential, never a cookie.
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  }
});

test('any other origin is refused at the preflight', async () => {
  for (const origin of [EVIL, 'http://127.0.0.1:8888', 'null']) {
    const response = await preflight(origin);
    assert.equal(response.status, 403, origin);
    assert.equal(response.headers.get('access-control-allow-origin'), null);
  }
});

test("JupyterLab's page can read the API's 401 and its WWW-Authenticate; another origin cannot", async () => {
  const allowed = await fetch(`${API}/items`, { headers: { Origin: JUPYTERLAB } });
  assert.equal(allowed.status, 401);
  assert.equal(allowed.headers.get('access-control-allow-origin'), JUPYTERLAB);
  assert.match(allowed.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
  assert.match(allowed.headers.get('vary') ?? '', /Origin/);

  const refused = await fetch(`${API}/items`, { headers: { Origin: EVIL } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});
