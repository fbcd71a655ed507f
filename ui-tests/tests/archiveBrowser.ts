/**
 * The example plugin `binder/archive-browser` as a person uses it. Role and label locators only.
 */
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { expect } from './jupyterAuth';

/** The plugin id: what the broker records decisions under; the consent dialog shows it below the name. */
export const ARCHIVE_PLUGIN_ID = '@jupyter-token-broker/archive-browser:plugin';

/** The plugin's readable name (from its package name), as the consent dialog and the panel call it. */
export const ARCHIVE_PLUGIN_NAME = 'Archive Browser';

/**
 * Opens the Archive Browser in the left sidebar.
 *
 * @param page - the JupyterLab page.
 * @returns the panel's region.
 */
export async function openArchiveBrowser(page: Page): Promise<Locator> {
  const panel = page.getByRole('region', { name: 'Archive Browser', exact: true });
  if (!(await panel.isVisible())) {
    await page.getByRole('tab', { name: 'Archive Browser' }).click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * The consent dialog the token broker shows when the archive browser asks for a provider's tokens.
 *
 * @param page - the JupyterLab page.
 * @param providerTitle - the provider's title.
 * @returns the dialog.
 */
export function consentDialog(page: Page, providerTitle: string): Locator {
  return page.getByRole('dialog', {
    name: `Allow ${ARCHIVE_PLUGIN_NAME} to use ${providerTitle}?`
  });
}

/**
 * Forgets the person's decision about the archive browser through the broker's API, so a spec starts from
 * "never asked".
 *
 * @param request - Galata's token-authenticated request fixture (JupyterLab's own client label).
 * @param provider - the provider id.
 */
export async function withdrawArchiveConsent(
  request: APIRequestContext,
  provider = 'demo'
): Promise<void> {
  const query = new URLSearchParams({ client: ARCHIVE_PLUGIN_ID, provider });
  const response = await request.delete(`/token-broker/api/v1/consents?${query}`);
  expect(response.status(), 'withdrawing the consent').toBe(204);
}
