/**
 * Screenshots every story leaves behind: attached to the test's report and written to `test-results/screenshots`.
 */
import type { Locator, Page, TestInfo } from '@playwright/test';
import * as path from 'node:path';

/** Where the screenshots go (kept apart from Playwright's own artifacts, which it cleans per run). */
export const SCREENSHOT_DIR = path.join(__dirname, '..', 'test-results', 'screenshots');

/**
 * Takes a screenshot, writes it to `test-results/screenshots/<name>.png` and attaches it to the report.
 *
 * @param target - the page, or one region of it.
 * @param testInfo - the running test's info.
 * @param name - a file-name-safe name, e.g. `consent-dialog`.
 * @returns the PNG bytes.
 */
export async function saveScreenshot(
  target: Page | Locator,
  testInfo: TestInfo,
  name: string
): Promise<Buffer> {
  const png = await target.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) });
  await testInfo.attach(name, { body: png, contentType: 'image/png' });
  return png;
}
