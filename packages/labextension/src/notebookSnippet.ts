/**
 * Putting a snippet into the active notebook: a new code cell below the active cell.
 */
import { NotebookActions, type INotebookTracker } from '@jupyterlab/notebook';

import { TokenBrokerError } from './errors';

/**
 * The language of the active notebook's kernel, from its metadata.
 *
 * @param tracker - the notebook tracker.
 * @returns e.g. `python` or `R`, or `undefined` without an active notebook or metadata.
 *
 * @example
 * ```ts
 * const language = languageForKernel(activeKernelLanguage(tracker));
 * ```
 */
export function activeKernelLanguage(tracker: INotebookTracker): string | undefined {
  const model = tracker.currentWidget?.model;
  const spec = model?.getMetadata('kernelspec') as { language?: unknown } | undefined;
  const info = model?.getMetadata('language_info') as { name?: unknown } | undefined;
  const language = spec?.language ?? info?.name;
  return typeof language === 'string' ? language : undefined;
}

/**
 * Inserts `source` as a new code cell below the active cell of the active notebook and selects it.
 * The cell is not run.
 *
 * @param tracker - the notebook tracker.
 * @param source - the cell's code.
 * @throws {TokenBrokerError} `no_notebook` when no notebook is open.
 *
 * @example
 * ```ts
 * insertCodeCell(tracker, snippet('python-requests', { provider: 'demo', scopes: [], url }));
 * ```
 */
export function insertCodeCell(tracker: INotebookTracker, source: string): void {
  const panel = tracker.currentWidget;
  if (!panel) {
    throw new TokenBrokerError('no_notebook', 'Open a notebook first: the snippet goes into it.');
  }
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  if (notebook.activeCell?.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell?.model.sharedModel.setSource(source);
}
