/**
 * The notebook side of the story: a cell that asks the broker for a token and calls the demo API with it.
 */
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export { DEMO_API_URL } from './stackPorts';

/**
 * The first code cell of `binder/demo.ipynb`, as it is: it finds the demo API through `DEMO_API_URL`, which the
 * launcher gives the Jupyter server, so running it against the test stack (on other ports than `make demo`'s)
 * shows that it calls the right API. The token itself is never printed.
 */
export const WHOAMI_CELL = (() => {
  const notebook = JSON.parse(
    readFileSync(path.join(__dirname, '..', '..', 'binder', 'demo.ipynb'), 'utf8')
  ) as { cells: { cell_type: string; source: string[] | string }[] };
  const cell = notebook.cells.find(c => c.cell_type === 'code');
  if (!cell) {
    throw new Error('binder/demo.ipynb has no code cell');
  }
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
})();

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
