/**
 * The panel and its dialogs read well (issue 7, items 6 and 7): the consent and sign-in dialogs name the Archive
 * Browser rather than its plugin id, Sign in in the panel is disabled while the plugin's sign-in runs, one sign-in
 * is one "login" line, the activity list tells asked / allowed / withdrawn / denied apart without a red "denied"
 * before the person chose, the claims fit the sidebar, the expiry line says the token expired instead of
 * vanishing, and sign-out shows a toast.
 */
import type { Locator } from '@playwright/test';
import * as path from 'node:path';

import {
  ARCHIVE_PLUGIN_ID,
  ARCHIVE_PLUGIN_NAME,
  consentDialog,
  openArchiveBrowser,
  withdrawArchiveConsent
} from './archiveBrowser';
import { saveScreenshot } from './evidence';
import {
  openTokenBrokerPanel,
  PROVIDER_TITLE,
  providerCard,
  signOutEverywhere
} from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

/** Extra copies of the screenshots for the closing note (outside the repository). */
const SCREENS = process.env.SCREENS_DIR ?? '/tmp/screens';

/** The lines of the panel's "Recent activity" list. */
function activity(panel: Locator): Locator {
  return panel.getByRole('list', { name: 'Recent token broker activity' }).getByRole('listitem');
}

test('the panel and the consent dialog say what happened, in words, and fit the sidebar', async ({
  page,
  request
}, testInfo) => {
  test.setTimeout(240_000);
  // Tall enough for the whole panel in one screenshot.
  await page.setViewportSize({ width: 1280, height: 1300 });
  await signOutEverywhere(request);
  await withdrawArchiveConsent(request);
  const panel = await openTokenBrokerPanel(page);
  const card = providerCard(panel);
  const lines = activity(panel);
  const loginLines = lines.filter({ hasText: /\blogin demo\b/ });
  const loginsBefore = await loginLines.count();

  const archive = await openArchiveBrowser(page);
  const listItems = archive.getByRole('button', { name: 'List archive items' });
  const dialog = consentDialog(page, PROVIDER_TITLE);

  await test.step('the consent dialog names the Archive Browser; its id is secondary', async () => {
    await listItems.click();
    await expect(dialog).toBeVisible();
    await expect(dialog.getByText(ARCHIVE_PLUGIN_NAME, { exact: true })).toBeVisible();
    await expect(dialog.getByText(ARCHIVE_PLUGIN_ID, { exact: true })).toBeVisible();
    await expect(dialog).toContainText('Lists the items of a protected archive API');
    await saveScreenshot(page, testInfo, 'consent-dialog-named');
    await page.screenshot({ path: path.join(SCREENS, 'consent-dialog.png') });
    await dialog.getByRole('button', { name: 'Allow', exact: true }).click();
    await expect(dialog).toBeHidden();
  });

  await test.step('the sign-in dialog names the plugin; Sign in in the panel is disabled meanwhile', async () => {
    const signInDialog = page.getByRole('dialog', { name: `Sign in to ${PROVIDER_TITLE}?` });
    await expect(signInDialog).toBeVisible();
    await expect(signInDialog.getByText(ARCHIVE_PLUGIN_NAME, { exact: true })).toBeVisible();
    await expect(signInDialog).not.toContainText('A JupyterLab extension asks');
    await page.screenshot({ path: path.join(SCREENS, 'sign-in-dialog.png') });
    const popupOpened = page.waitForEvent('popup');
    await signInDialog.getByRole('button', { name: 'Sign in', exact: true }).click();
    const popup = await popupOpened;
    await openTokenBrokerPanel(page);
    await expect(
      card.getByRole('button', { name: `Sign in to ${PROVIDER_TITLE}`, exact: true })
    ).toBeDisabled();
    await expect(card.getByText('Signing in… finish in the login window')).toBeVisible();
    const popupClosed = popup.waitForEvent('close');
    const form = popup.getByLabel('Username');
    await Promise.race([form.waitFor(), popupClosed]);
    if (!popup.isClosed()) {
      await form.fill('alice');
      await popup.getByLabel('Password').fill('demo');
      await popup.getByRole('button', { name: 'Sign in' }).click();
    }
    await popupClosed;
    await expect(card.getByText('Signed in as alice')).toBeVisible();
    await openArchiveBrowser(page);
    await expect(archive.getByRole('status')).toHaveText('3 items');
  });

  await test.step('one sign-in is one login line; consent was asked, not a red denial', async () => {
    await openTokenBrokerPanel(page);
    await expect(loginLines).toHaveCount(loginsBefore + 1);
    await expect(
      lines.filter({ hasText: `consent asked demo · ${ARCHIVE_PLUGIN_NAME}` })
    ).not.toHaveCount(0);
    await expect(panel.getByText(/denied \((consent|login)_required\)/)).toHaveCount(0);
    await expect(
      lines.filter({ hasText: `sign-in needed demo · ${ARCHIVE_PLUGIN_NAME}` })
    ).not.toHaveCount(0);
  });

  await test.step('the claims fit the sidebar: values wrap by words, not a character at a time', async () => {
    await card.getByText('Claims (unverified)').click();
    // The issue time, e.g. `2030-01-01T00:00:00.000Z (1893456000)`: a long value with a space to wrap at.
    const scope = card
      .getByRole('definition')
      .filter({ hasText: /T\d\d:\d\d:\d\d.* \(\d+\)$/ })
      .first();
    await expect(scope).toBeVisible();
    const box = await scope.boundingBox();
    const cardBox = await card.boundingBox();
    expect(box?.width ?? 0, 'the claim value gets over half the card width').toBeGreaterThan(
      (cardBox?.width ?? 0) * 0.5
    );
    const lineHeight = await scope.evaluate(
      node => parseFloat(getComputedStyle(node).lineHeight) || 16
    );
    expect(
      box?.height ?? 0,
      'the claim value takes a few lines, not one per character'
    ).toBeLessThan(lineHeight * 5);
    await saveScreenshot(panel, testInfo, 'panel-polished');
    await panel.screenshot({ path: path.join(SCREENS, 'panel-polished.png') });
  });

  await test.step('Allow, Withdraw and Deny each read as what they were', async () => {
    await openTokenBrokerPanel(page);
    await expect(
      lines.filter({ hasText: `consent demo · ${ARCHIVE_PLUGIN_NAME} · allowed for this session` })
    ).toHaveCount(1);
    await panel
      .getByRole('button', {
        name: `Withdraw consent of ${ARCHIVE_PLUGIN_NAME} for ${PROVIDER_TITLE}`
      })
      .click();
    await expect(lines.first()).toContainText(
      `consent demo · ${ARCHIVE_PLUGIN_NAME} · decision withdrawn`
    );
    await openArchiveBrowser(page);
    await listItems.click();
    await dialog.getByRole('button', { name: 'Deny', exact: true }).click();
    await expect(archive.getByRole('alert')).toContainText(
      `Access to ${PROVIDER_TITLE} was denied`
    );
    await openTokenBrokerPanel(page);
    await expect(
      lines.filter({ hasText: `consent demo · ${ARCHIVE_PLUGIN_NAME} · denied` })
    ).toHaveCount(1);
    await card.getByText('Claims (unverified)').click(); // collapsed again: the activity list in view
    await saveScreenshot(panel, testInfo, 'panel-activity');
    await panel.screenshot({ path: path.join(SCREENS, 'panel-activity.png') });
  });

  await test.step('at 0 the expiry line says the token expired and renews on next use', async () => {
    // Demo access tokens live 60 s; the behaviour under test is the passing of that time.
    await expect(card.getByText('Access token expired — renews on next use')).toBeVisible({
      timeout: 90_000
    });
    await page.waitForTimeout(3_000);
    await expect(card.getByText('Access token expired — renews on next use')).toBeVisible();
    await panel.screenshot({ path: path.join(SCREENS, 'panel-expired.png') });
  });

  await test.step('sign-out shows a toast', async () => {
    await card.getByRole('button', { name: `Sign out of ${PROVIDER_TITLE}`, exact: true }).click();
    await expect(card.getByText('Not signed in')).toBeVisible();
    await expect(page.getByText(`Signed out of ${PROVIDER_TITLE}`)).toBeVisible();
    await page.screenshot({ path: path.join(SCREENS, 'signed-out-toast.png') });
  });

  await withdrawArchiveConsent(request);
  await signOutEverywhere(request);
});
