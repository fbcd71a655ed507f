/**
 * On a public BinderHub only the Jupyter server reaches the browser. With Binder's own start-up (`binder/start`,
 * `binder/jupyter_server_config.py`), the demo story works through the Jupyter origin alone: the popup signs in
 * at the demo IdP through jupyter-server-proxy, and the Archive Browser lists the archive through it. Any
 * request of the browser (the page or the popup) to another origin fails the test.
 */
import type { Request } from '@playwright/test';

import { consentDialog, openArchiveBrowser, withdrawArchiveConsent } from '../tests/archiveBrowser';
import { expect, test } from '../tests/jupyterAuth';
import { PROVIDER_TITLE, signInFromPanel, signOutEverywhere } from '../tests/tokenBrokerPanel';

// JupyterLab is opened by the test itself, so that it may take longer to start than Galata's own 15 s (Binder's
// set-up adds jupyter-server-proxy's launcher plugin).
test.use({ autoGoto: false });

test('the demo story runs through the Jupyter origin alone', async ({
  context,
  request,
  baseURL
}) => {
  const origin = new URL(String(baseURL)).origin;
  const seen: string[] = [];
  const elsewhere: string[] = [];
  context.on('request', (sent: Request) => {
    const url = new URL(sent.url());
    if (url.protocol === 'data:' || url.protocol === 'blob:') return;
    seen.push(sent.url());
    if (url.origin !== origin) elsewhere.push(sent.url());
  });

  await signOutEverywhere(request, ['demo']);
  await withdrawArchiveConsent(request);
  const page = await context.newPage();
  await page.goto(`${origin}/lab`);
  await page.waitForFunction(
    async () => {
      const app = (window as unknown as { jupyterapp?: { started: Promise<void> } }).jupyterapp;
      if (app === undefined) return false;
      await app.started;
      return true;
    },
    undefined,
    { timeout: 90_000 }
  );

  await test.step('the popup signs in through the proxy', async () => {
    await signInFromPanel(page, 'alice');
    expect(seen.some(url => /\/proxy\/absolute\/\d+\/interaction\//.test(url))).toBe(true);
  });

  await test.step('the Archive Browser lists the archive through the proxy', async () => {
    const archive = await openArchiveBrowser(page);
    await archive.getByRole('button', { name: 'List archive items' }).click();
    const dialog = consentDialog(page, PROVIDER_TITLE);
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Allow', exact: true }).click();
    await expect(
      archive.getByRole('list', { name: 'Archive items' }).getByRole('listitem')
    ).toHaveCount(3);
    expect(seen.some(url => /\/proxy\/\d+\/items$/.test(url))).toBe(true);
  });

  expect(elsewhere).toEqual([]);
});
