/**
 * Writing to the system clipboard from JupyterLab.
 */
import { Clipboard } from '@jupyterlab/apputils';

/**
 * Writes to the system clipboard with the async Clipboard API, falling back to JupyterLab's
 * `copy` event (for browsers that refuse the async API, e.g. without focus).
 *
 * @param text - the text to copy.
 *
 * @example
 * ```ts
 * await writeSystemClipboard('hello');
 * ```
 */
export async function writeSystemClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    Clipboard.copyToSystem(text);
  }
}
