/**
 * What must always hold: no token in any process environment (the whole machine, kernels included), in the
 * logs of JupyterLab, the server extension, the broker, the IdP and the API, or in browser storage.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEMO_API_URL, runWhoamiCell } from './demoNotebook';
import { countJwtsIssuedBy, findLeaks, processEnvironments } from './secretScan';
import { signInFromPanel, signOutFromPanel } from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

const STACK_LOG = path.join(__dirname, '..', 'test-results', 'stack.log');
const ISSUER = `http://127.0.0.1:${process.env.UI_TESTS_IDP_PORT ?? 9410}`;

test('after a sign-in and a notebook call, no token is in any environment, log or browser storage', async ({
  page,
  request
}) => {
  await signInFromPanel(page, 'alice');
  await page.notebook.createNew('leak-check.ipynb');
  expect(await runWhoamiCell(page)).toContain("'preferred_username': 'alice'");

  const response = await request.post('/token-broker/api/v1/providers/demo/token', { data: {} });
  expect(response.status()).toBe(200);
  expect(response.headers()['cache-control']).toContain('no-store');
  const body = await response.json();
  expect(body).not.toHaveProperty('refresh_token');
  const accessToken: string = body.access_token;
  expect(accessToken.split('.')).toHaveLength(3);

  // The token the broker handed out is a real one for the demo API.
  const whoami = await request.get(`${DEMO_API_URL}/whoami`, {
    headers: { Authorization: `Bearer ${accessToken}` }
  });
  expect(whoami.status()).toBe(200);

  await test.step('no process environment on the machine holds a token', () => {
    const environments = processEnvironments();
    expect(environments.length).toBeGreaterThan(3);
    expect(
      findLeaks(environments, {
        'the access token': accessToken,
        'an access_token variable or value': 'access_token',
        'a refresh_token variable or value': 'refresh_token'
      })
    ).toEqual([]);
  });

  await test.step('the stack log (JupyterLab, extension, broker, IdP, API) holds no token', () => {
    const log = readFileSync(STACK_LOG, 'utf8');
    expect(log.length).toBeGreaterThan(0);
    expect(
      findLeaks([{ where: 'stack.log', text: log }], { 'the access token': accessToken })
    ).toEqual([]);
    expect(countJwtsIssuedBy(log, ISSUER), 'JWTs issued by the demo IdP in stack.log').toBe(0);
    expect(log).not.toMatch(/"(access_token|refresh_token|id_token|code_verifier)"\s*:\s*"[^"]/);
    expect(log).not.toMatch(/(refresh_token|code_verifier|code)=[A-Za-z0-9_-]{20,}/);
  });

  await test.step('browser storage holds no token', async () => {
    const stored = await page.evaluate(() =>
      JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])
    );
    expect(stored).not.toContain(accessToken);
  });

  await signOutFromPanel(page);
});
