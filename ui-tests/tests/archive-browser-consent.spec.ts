/**
 * A third-party plugin asks for a token: the example Archive Browser (`binder/archive-browser`) wants Demo IdP's
 * token to list the demo archive. The token broker asks the person first. Allow: the plugin lists the items.
 * Withdraw that decision in the Token Broker panel, ask again, Deny: the plugin says clearly that access was
 * denied, and keeps saying so without asking again.
 */
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
  signInFromPanel,
  signOutEverywhere
} from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

test('the archive browser asks for consent: allow lists the items, deny shows a clear message', async ({
  page,
  request
}, testInfo) => {
  await signOutEverywhere(request);
  await withdrawArchiveConsent(request);
  await signInFromPanel(page, 'alice');

  const archive = await openArchiveBrowser(page);
  const listItems = archive.getByRole('button', { name: 'List archive items' });
  const items = archive.getByRole('list', { name: 'Archive items' }).getByRole('listitem');
  const dialog = consentDialog(page, PROVIDER_TITLE);

  await test.step('the first request asks the person', async () => {
    await listItems.click();
    await expect(dialog).toBeVisible();
    await expect(dialog.getByText(ARCHIVE_PLUGIN_ID, { exact: true })).toBeVisible();
    await saveScreenshot(page, testInfo, 'archive-consent-dialog');
  });

  await test.step('Allow: the plugin lists the archive', async () => {
    await dialog.getByRole('button', { name: 'Allow', exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(items).toHaveCount(3);
    await expect(items.first()).toContainText('M31 deep field, R band');
    await expect(archive.getByRole('status')).toHaveText('3 items');
    await saveScreenshot(archive, testInfo, 'archive-items-allowed');
  });

  await test.step('asking again does not ask the person again', async () => {
    await listItems.click();
    await expect(archive.getByRole('status')).toHaveText('3 items');
    await expect(dialog).toBeHidden();
  });

  await test.step('the panel lists the decision; Withdraw forgets it', async () => {
    const panel = await openTokenBrokerPanel(page);
    const withdraw = panel.getByRole('button', {
      name: `Withdraw consent of ${ARCHIVE_PLUGIN_NAME} for ${PROVIDER_TITLE}`
    });
    await expect(withdraw).toBeVisible();
    await withdraw.click();
    await expect(withdraw).toBeHidden();
  });

  await test.step('Deny: the plugin says access was denied', async () => {
    await openArchiveBrowser(page);
    await listItems.click();
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Deny', exact: true }).click();
    await expect(dialog).toBeHidden();
    const alert = archive.getByRole('alert');
    await expect(alert).toContainText(`Access to ${PROVIDER_TITLE} was denied`);
    await expect(items).toHaveCount(0);
    await saveScreenshot(archive, testInfo, 'archive-access-denied');
  });

  await test.step('a denied plugin is not asked again and stays denied', async () => {
    await listItems.click();
    await expect(archive.getByRole('alert')).toContainText(
      `Access to ${PROVIDER_TITLE} was denied`
    );
    await expect(dialog).toBeHidden();
  });

  await withdrawArchiveConsent(request);
  await signOutEverywhere(request);
});
