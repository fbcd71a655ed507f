/**
 * The notebook side of the story: a cell that asks the broker for a token and calls the demo API with it.
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

/** The demo API of the test stack (kept in step with `playwright.config.ts`). */
export const DEMO_API_URL = `http://127.0.0.1:${process.env.UI_TESTS_API_PORT ?? 9411}`;

/** The cell of `binder/demo.ipynb`, pointed at the test stack's demo API. The token itself is never printed. */
export const WHOAMI_CELL = [
  'import requests',
  'from jupyter_token_broker import get_token',
  '',
  `r = requests.get("${DEMO_API_URL}/whoami", headers={"Authorization": f"Bearer {get_token('demo')}"})`,
  'print(r.json())'
].join('\n');

/**
 * Puts {@link WHOAMI_CELL} into the first cell of the active notebook, runs it, and returns its output text.
 *
 * @param page - the JupyterLab page with a notebook open.
 * @returns the text of every output of the cell, joined.
 */
export async function runWhoamiCell(page: IJupyterLabPageFixture): Promise<string> {
  await page.notebook.setCell(0, 'code', WHOAMI_CELL);
  await page.notebook.runCell(0);
  return ((await page.notebook.getCellTextOutput(0)) ?? []).join('\n');
}
