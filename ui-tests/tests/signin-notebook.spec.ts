/**
 * The demo story: alice signs in from the Token Broker panel, a notebook calls the protected demo API with
 * `get_token("demo")`, and after she signs out the same cell says a login is required.
 */
import { runWhoamiCell } from './demoNotebook';
import { saveScreenshot } from './evidence';
import { signInFromPanel, signOutEverywhere, signOutFromPanel } from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

/** Reads `Expires in m:ss` as seconds. */
function secondsOf(text: string | null): number {
  const match = /Expires in (\d+):(\d\d)/.exec(text ?? '');
  expect(match, `an "Expires in m:ss" countdown, got ${JSON.stringify(text)}`).not.toBeNull();
  return Number(match![1]) * 60 + Number(match![2]);
}

test('alice signs in from the panel, a notebook calls the demo API as her, and stops after sign-out', async ({
  page,
  request
}, testInfo) => {
  await signOutEverywhere(request);
  const card = await test.step('sign in through the IdP popup', () =>
    signInFromPanel(page, 'alice'));

  await test.step('the expiry counts down', async () => {
    const countdown = card.getByText(/^Expires in \d+:\d\d$/);
    await expect(countdown).toBeVisible();
    const before = secondsOf(await countdown.textContent());
    // The behaviour under test is the passing of time itself.
    await page.waitForTimeout(2_000);
    const after = secondsOf(await countdown.textContent());
    expect(after).not.toBe(before);
    expect(after).toBeLessThanOrEqual(60);
  });

  await test.step('a screenshot of the signed-in panel', () =>
    saveScreenshot(
      page.getByRole('region', { name: 'Token Broker', exact: true }),
      testInfo,
      'panel-signed-in'
    ));

  await test.step('get_token("demo") in a notebook calls the demo API as alice', async () => {
    await page.notebook.createNew('whoami.ipynb');
    const output = await runWhoamiCell(page);
    expect(output).toContain("'sub': 'alice'");
    expect(output).toContain("'preferred_username': 'alice'");
  });

  await test.step('after sign-out the same cell says the demo provider needs a login', async () => {
    await signOutFromPanel(page);
    const output = await runWhoamiCell(page);
    expect(output).toContain('LoginRequired');
    expect(output).toContain("'demo'");
    expect(output).toMatch(/needs a login/i);
    expect(output).not.toContain("'sub': 'alice'");
    await saveScreenshot(page, testInfo, 'signed-out-login-required');
  });
});
