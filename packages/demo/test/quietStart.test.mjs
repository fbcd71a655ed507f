/**
 * A newcomer sees only what matters: the demo IdP starts without oidc-provider's two warnings that do not apply
 * to it ("Unsupported runtime" on a supported Node.js, "in-memory adapter … you MUST change it"), and any other
 * warning still shows.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../lib/ports.mjs';
import { startDemoProcess } from './stackProcess.mjs';

const KNOWN_WARNINGS = fileURLToPath(new URL('../lib/knownWarnings.mjs', import.meta.url));

test('the demo IdP starts without oidc-provider warnings', async () => {
  const [port, apiPort, jupyterPort] = await freePorts(3);
  const idp = await startDemoProcess('idp.mjs', [
    '--port',
    String(port),
    '--api-url',
    `http://127.0.0.1:${apiPort}`,
    '--jupyter-port',
    String(jupyterPort)
  ]);
  const discovery = await fetch(`${idp.ready.issuer}/.well-known/openid-configuration`);
  assert.equal(discovery.status, 200);
  // The adapter warning comes with the first request that touches the provider's storage.
  const authorization = await fetch(`${idp.ready.issuer}/auth?client_id=jupyter-demo`, {
    redirect: 'manual'
  });
  await authorization.body?.cancel();
  await idp.stop();
  assert.doesNotMatch(idp.stderr(), /oidc-provider WARNING/);
});

test('only the two known warnings are kept out; any other warning shows', () => {
  const script = `
    await import(${JSON.stringify(KNOWN_WARNINGS)});
    console.warn('oidc-provider WARNING: a quick start development-only in-memory adapter is used, you MUST change it');
    console.warn('\\u001b[31;1moidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.\\u001b[0m');
    console.warn('oidc-provider WARNING: default renderError function called, you MUST change it');
    console.warn('something else');
  `;
  const { stderr } = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8'
  });
  assert.equal(
    stderr,
    'oidc-provider WARNING: default renderError function called, you MUST change it\nsomething else\n'
  );
});
