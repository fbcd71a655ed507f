/**
 * The countdown follows the broker's token: alice signs in (demo tokens live 60 s), notebook code then asks
 * for a token that must live longer than the one the panel shows has left, so the broker refreshes. When the
 * panel's countdown runs out it reads the broker's state again and jumps back up to the refreshed token's
 * lifetime, without any click. The status bar keeps saying one provider is signed in.
 */
import type { Locator } from '@playwright/test';
import { saveScreenshot } from './evidence';
import { signInFromPanel, signOutEverywhere } from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

/** Reads the card's `Expires in m:ss` as seconds, or -1 when it shows none. */
async function secondsLeft(card: Locator): Promise<number> {
  const text = await card.getByText(/^(Expires in \d+:\d\d|Access token expired.*)$/).textContent();
  const match = /Expires in (\d+):(\d\d)/.exec(text ?? '');
  return match ? Number(match[1]) * 60 + Number(match[2]) : -1;
}

test('the panel countdown jumps back up after a kernel forced a refresh, and the status bar stays signed in', async ({
  page,
  request
}, testInfo) => {
  test.setTimeout(240_000);
  await signOutEverywhere(request);
  const card = await signInFromPanel(page, 'alice');
  const status = page.getByRole('button', { name: 'Tokens: 1 signed in' });
  await expect(status).toBeVisible();
  await page.notebook.createNew('refresh.ipynb');

  await test.step('wait until the token shown has less than 20 s left', async () => {
    await expect
      .poll(() => secondsLeft(card), { timeout: 70_000, intervals: [1_000] })
      .toBeLessThanOrEqual(20);
  });

  await test.step('the kernel asks for a token that lives 45 s: the broker refreshes', async () => {
    await page.notebook.setCell(
      0,
      'code',
      [
        'from jupyter_token_broker import get_token',
        'get_token("demo", min_ttl=45)',
        'print("refreshed")'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    expect(((await page.notebook.getCellTextOutput(0)) ?? []).join('\n')).toContain('refreshed');
    const events = await (
      await request.get('/token-broker/api/v1/events?provider=demo&limit=20')
    ).json();
    expect(
      events.events.some((e: { type: string; client: string }) => e.client === 'kernel'),
      'the audit trail names the kernel'
    ).toBe(true);
  });

  await test.step('the countdown runs out, then shows the refreshed token (about a minute) by itself', async () => {
    await expect
      .poll(() => secondsLeft(card), { timeout: 60_000, intervals: [1_000] })
      .toBeGreaterThanOrEqual(25);
    await expect(status).toBeVisible();
    await saveScreenshot(page, testInfo, 'countdown-after-refresh');
  });

  await signOutEverywhere(request);
});
