/**
 * What must always hold: no token in any process environment (the whole machine, kernels included), in the
 * logs of JupyterLab, the server extension, the broker, the IdP and the API, in browser storage, in the
 * settings registry, in the browser console, or in the page's DOM, after a person signed in, a notebook and a
 * plugin used tokens.
 */
import { readFileSync } from 'node:fs';
import { consentDialog, openArchiveBrowser, withdrawArchiveConsent } from './archiveBrowser';
import { DEMO_API_URL, runWhoamiCell } from './demoNotebook';
import { DEMO_ISSUER as ISSUER, STACK_LOG } from './stackPorts';
import { countJwtsIssuedBy, findLeaks, processEnvironments } from './secretScan';
import {
  PROVIDER_TITLE,
  signInFromPanel,
  signOutEverywhere,
  signOutFromPanel
} from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

test('after a sign-in, a notebook call and a plugin call, no token is in any environment, log, storage, setting, console or DOM', async ({
  page,
  request
}) => {
  const consoleMessages: string[] = [];
  page.on('console', message => consoleMessages.push(message.text()));
  page.on('pageerror', error => consoleMessages.push(`${error.message}\n${error.stack ?? ''}`));

  await signOutEverywhere(request);
  await withdrawArchiveConsent(request);
  await signInFromPanel(page, 'alice');
  await page.notebook.createNew('leak-check.ipynb');
  expect(await runWhoamiCell(page)).toContain("'preferred_username': 'alice'");

  const archive = await openArchiveBrowser(page);
  await archive.getByRole('button', { name: 'List archive items' }).click();
  await consentDialog(page, PROVIDER_TITLE)
    .getByRole('button', { name: 'Allow', exact: true })
    .click();
  await expect(
    archive.getByRole('list', { name: 'Archive items' }).getByRole('listitem')
  ).toHaveCount(3);

  // The broker caches per scope set: these are the tokens the notebook (default scopes) and the plugin
  // (demo:read) were handed.
  const tokens: Record<string, string> = {};
  for (const [name, data] of [
    ['the default access token', {}],
    ['the demo:read access token', { scopes: ['demo:read'] }]
  ] as const) {
    const response = await request.post('/token-broker/api/v1/providers/demo/token', { data });
    expect(response.status()).toBe(200);
    expect(response.headers()['cache-control']).toContain('no-store');
    const body = await response.json();
    expect(body).not.toHaveProperty('refresh_token');
    expect(String(body.access_token).split('.')).toHaveLength(3);
    tokens[name] = body.access_token;
  }

  // The token the broker handed out is a real one for the demo API.
  const whoami = await request.get(`${DEMO_API_URL}/whoami`, {
    headers: { Authorization: `Bearer ${tokens['the default access token']}` }
  });
  expect(whoami.status()).toBe(200);

  await test.step('no process environment on the machine holds a token', () => {
    const environments = processEnvironments();
    expect(environments.length).toBeGreaterThan(3);
    expect(
      findLeaks(environments, {
        ...tokens,
        'an access_token variable or value': 'access_token',
        'a refresh_token variable or value': 'refresh_token'
      })
    ).toEqual([]);
  });

  await test.step('the stack log (JupyterLab, extension, broker, IdP, API) holds no token', () => {
    const log = readFileSync(STACK_LOG, 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect(findLeaks([{ where: 'stack.log', text: log }], tokens)).toEqual([]);
    expect(countJwtsIssuedBy(log, ISSUER), 'JWTs issued by the demo IdP in stack.log').toBe(0);
    expect(log).not.toMatch(/"(access_token|refresh_token|id_token|code_verifier)"\s*:\s*"[^"]/);
    expect(log).not.toMatch(/(refresh_token|code_verifier|code)=[A-Za-z0-9_-]{20,}/);
  });

  await test.step('browser storage holds no token', async () => {
    const stored = await page.evaluate(() =>
      JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])
    );
    expect(findLeaks([{ where: 'browser storage', text: stored }], tokens)).toEqual([]);
    expect(countJwtsIssuedBy(stored, ISSUER)).toBe(0);
  });

  await test.step('the settings registry holds no token', async () => {
    const response = await request.get('/lab/api/settings');
    expect(response.status()).toBe(200);
    const settings = await response.text();
    expect(settings).toContain('jupyter-token-broker');
    expect(findLeaks([{ where: '/lab/api/settings', text: settings }], tokens)).toEqual([]);
    expect(countJwtsIssuedBy(settings, ISSUER)).toBe(0);
  });

  await test.step('the browser console holds no token', () => {
    const text = consoleMessages.join('\n');
    expect(findLeaks([{ where: 'console', text }], tokens)).toEqual([]);
    expect(countJwtsIssuedBy(text, ISSUER)).toBe(0);
  });

  await test.step('the DOM holds no token', async () => {
    const html = await page.content();
    expect(html).toContain('Archive Browser');
    expect(findLeaks([{ where: 'page.content()', text: html }], tokens)).toEqual([]);
    expect(countJwtsIssuedBy(html, ISSUER)).toBe(0);
  });

  await signOutFromPanel(page);
  await withdrawArchiveConsent(request);
});
