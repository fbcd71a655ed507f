/**
 * The demo IdP behind jupyter-server-proxy (`lib/jupyterProxy.mjs`): which requests came through the proxy, how
 * they are mounted for oidc-provider, which redirects and cookies stay under the prefix, and which redirect URIs
 * it accepts. The whole sign-in through a real Jupyter server is `packages/labextension/tests/test_binder_via_jupyter.py`.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isProxiedServerCallback,
  jupyterProxyMount,
  mountBehindJupyterProxy,
  mountPathOf
} from '../lib/jupyterProxy.mjs';

/** A response that records the headers set on it. */
function recordingResponse() {
  const headers = {};
  return { headers, setHeader: (name, value) => (headers[name.toLowerCase()] = value) };
}

test('a request under {base_url}proxy/absolute/<port>/ is mounted there; others are left alone', () => {
  assert.deepEqual(jupyterProxyMount('/user/ada/proxy/absolute/9400/auth', 9400), {
    mountPath: '/user/ada/proxy/absolute/9400',
    baseUrl: '/user/ada/'
  });
  assert.deepEqual(jupyterProxyMount('/proxy/absolute/9400/interaction/x', 9400), {
    mountPath: '/proxy/absolute/9400',
    baseUrl: '/'
  });
  assert.equal(jupyterProxyMount('/auth', 9400), null);
  assert.equal(jupyterProxyMount('/proxy/absolute/9401/auth', 9400), null, 'another port');
  assert.equal(jupyterProxyMount('/proxy/9400/auth', 9400), null, 'the non-absolute mode');

  const direct = { url: '/token', headers: { host: '127.0.0.1:9400' } };
  assert.equal(mountBehindJupyterProxy(direct, recordingResponse(), 9400), false);
  assert.equal(direct.url, '/token');
  assert.equal(mountPathOf(direct), '');
});

test('oidc-provider sees the path without the prefix and the prefix as its mount path', () => {
  const req = {
    url: '/user/ada/proxy/absolute/9400/auth?client_id=c',
    headers: { host: 'hub.example.org' }
  };
  assert.equal(mountBehindJupyterProxy(req, recordingResponse(), 9400), true);
  assert.equal(req.url, '/auth?client_id=c');
  assert.equal(req.originalUrl, '/user/ada/proxy/absolute/9400/auth?client_id=c');
  assert.equal(mountPathOf(req), '/user/ada/proxy/absolute/9400');
});

test('redirects to the IdP itself become paths; the callback stays; cookies stay under the prefix', () => {
  const req = { url: '/user/ada/proxy/absolute/9400/auth', headers: { host: 'hub.example.org' } };
  const res = recordingResponse();
  mountBehindJupyterProxy(req, res, 9400);

  res.setHeader('Location', 'http://hub.example.org/user/ada/proxy/absolute/9400/auth/uid1');
  assert.equal(res.headers.location, '/user/ada/proxy/absolute/9400/auth/uid1');
  const callback = 'https://hub.example.org/user/ada/token-broker/api/v1/callback?code=c&state=s';
  res.setHeader('Location', callback);
  assert.equal(res.headers.location, callback);

  res.setHeader('Set-Cookie', [
    '_session=a; path=/; expires=Thu, 01 Jan 2099 00:00:00 GMT; samesite=lax; httponly',
    '_interaction=b; path=/user/ada/proxy/absolute/9400/interaction/uid1; samesite=lax; httponly'
  ]);
  assert.deepEqual(res.headers['set-cookie'], [
    '_session=a; path=/user/ada/proxy/absolute/9400/; expires=Thu, 01 Jan 2099 00:00:00 GMT; samesite=lax; httponly',
    '_interaction=b; path=/user/ada/proxy/absolute/9400/interaction/uid1; samesite=lax; httponly'
  ]);
});

test('only the callback of the Jupyter server the request came through is accepted', () => {
  const req = { url: '/user/ada/proxy/absolute/9400/auth', headers: { host: 'hub.example.org' } };
  mountBehindJupyterProxy(req, recordingResponse(), 9400);
  for (const scheme of ['https', 'http']) {
    assert.equal(
      isProxiedServerCallback(
        req,
        `${scheme}://hub.example.org/user/ada/token-broker/api/v1/callback`
      ),
      true
    );
  }
  for (const other of [
    'https://hub.example.org/user/bob/token-broker/api/v1/callback',
    'https://attacker.example/user/ada/token-broker/api/v1/callback',
    'https://hub.example.org/user/ada/token-broker/api/v1/callback?x=1',
    'https://hub.example.org/user/ada/elsewhere'
  ]) {
    assert.equal(isProxiedServerCallback(req, other), false, other);
  }
  const direct = { url: '/auth', headers: { host: '127.0.0.1:9400' } };
  mountBehindJupyterProxy(direct, recordingResponse(), 9400);
  assert.equal(
    isProxiedServerCallback(direct, 'http://127.0.0.1:9400/token-broker/api/v1/callback'),
    false,
    'a direct request gets no such allowance'
  );
  assert.equal(isProxiedServerCallback(undefined, 'http://x/token-broker/api/v1/callback'), false);
});
