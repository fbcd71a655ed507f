/**
 * The header helper: alice chooses a provider in the token picker (`token-broker:pick`) and inserts a snippet
 * into her notebook; the snippet asks the broker for a token when it runs (it contains none) and prints the
 * demo API's answer. The same from a cell's context menu, with httpx.
 *
 * The snippets call the URL of the `snippetUrl` setting, which the test stack's overrides.json points at the
 * demo API's `/whoami`.
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { saveScreenshot } from './evidence';
import { PROVIDER_TITLE, signInFromPanel, signOutEverywhere } from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

/** The index of the first cell whose source contains `text`, or -1. */
async function findCell(page: IJupyterLabPageFixture, text: string): Promise<number> {
  const count = await page.notebook.getCellCount();
  for (let i = 0; i < count; i++) {
    if (((await page.notebook.getCellTextInput(i)) ?? '').includes(text)) {
      return i;
    }
  }
  return -1;
}

test('the picker chooses a provider and its snippet runs in a notebook and prints the demo API answer', async ({
  page,
  request
}, testInfo) => {
  await signOutEverywhere(request);
  await signInFromPanel(page, 'alice');
  await page.notebook.createNew('snippet.ipynb');

  await test.step('choose Demo IdP in the token picker and insert a snippet', async () => {
    const palette = page.getByRole('region', { name: 'Command Palette Section' });
    const search = palette.getByRole('textbox', { name: 'SEARCH' });
    // A shortcut pressed while the new notebook still takes focus can be lost: press again until it opens.
    await expect(async () => {
      if (!(await search.isVisible())) {
        await page.keyboard.press('Control+Shift+C');
      }
      await expect(search).toBeVisible({ timeout: 2_000 });
    }).toPass({ timeout: 30_000 });
    await search.fill('Choose a Token');
    await palette.getByRole('menuitem', { name: /Token Broker: Choose a Token/ }).click();

    const picker = page.getByRole('dialog', { name: 'Choose a token' });
    await expect(picker).toBeVisible();
    await picker
      .getByRole('combobox', { name: 'Provider' })
      .selectOption({ label: PROVIDER_TITLE });
    await expect(picker.getByText('Signed in as alice')).toBeVisible();
    await saveScreenshot(page, testInfo, 'token-picker');
    await picker.getByRole('button', { name: 'Insert snippet' }).click();
    await expect(picker).toBeHidden();
  });

  await test.step('the snippet holds no token and prints the demo API answer when run', async () => {
    const source = (await page.notebook.getCellTextInput(1)) ?? '';
    expect(source).toContain('BrokerAuth("demo")');
    expect(source).not.toMatch(/eyJ[A-Za-z0-9_-]+\./);
    await page.notebook.runCell(1);
    const output = ((await page.notebook.getCellTextOutput(1)) ?? []).join('\n');
    expect(output).toContain("'preferred_username': 'alice'");
    expect(output).toContain("'scope':");
    await saveScreenshot(page, testInfo, 'snippet-ran');
  });

  await test.step("a cell's context menu inserts an httpx snippet that runs too", async () => {
    // Right-click the snippet cell's editor: the cell context menu has a Token Broker submenu.
    await page
      .getByRole('region', { name: 'main area content' })
      .getByRole('textbox')
      .nth(1)
      .click({ button: 'right' });
    // Lumino gives a submenu entry no menuitem role: it is the context menu's list item named Token Broker.
    await page
      .getByRole('menu')
      .getByRole('listitem')
      .filter({ hasText: /^Token Broker$/ })
      .hover();
    await page.getByRole('menuitem', { name: 'Insert Python httpx Snippet' }).click();
    // Two providers and no default provider set: JupyterLab asks which one (a dialog without a name).
    const pick = page
      .getByRole('dialog')
      .filter({ hasText: 'Insert a snippet for which provider?' });
    await pick.getByRole('combobox').selectOption({ label: PROVIDER_TITLE });
    await pick.getByRole('button', { name: 'Ok' }).click();
    await expect(pick).toBeHidden();
    // The snippet goes below the active cell, wherever that is.
    let httpxCell = -1;
    await expect
      .poll(async () => (httpxCell = await findCell(page, 'import httpx')))
      .toBeGreaterThan(0);
    await page.notebook.runCell(httpxCell);
    const output = ((await page.notebook.getCellTextOutput(httpxCell)) ?? []).join('\n');
    expect(output).toContain("'preferred_username': 'alice'");
  });

  await signOutEverywhere(request);
});
