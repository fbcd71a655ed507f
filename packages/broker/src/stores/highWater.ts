/**
 * The file store's defence against rollback: every write seals a generation number one higher into
 * the store document, and the highest generation seen is kept outside it — in the running broker's
 * memory and in a small mark file (`<store.path>.generation`, one decimal line, 0600). A store file
 * whose sealed generation is below either is an older genuine copy (restored from a backup, copied
 * back, synced from elsewhere): it is refused with `store_rolled_back` instead of being used, since
 * it could bring back a grant that was signed out.
 *
 * What it cannot catch, said plainly: a copy of the store file AND its mark file restored together
 * while no broker runs (a whole-directory restore). Nothing kept beside the files can; the
 * encryption key does not help either, since an old copy is genuinely sealed with it. There, the
 * sign-out's revocation at the identity provider is what keeps a resurrected refresh token useless
 * (the audit trail records when that revocation failed).
 *
 * Writes: the store file first, the mark second (both atomic replaces, under the store's write
 * lock). Reads: the mark first, the store second. Since the mark never runs ahead of the store
 * file, a reader in another process can never see a genuine, current store as stale.
 */
import { readFile } from 'node:fs/promises';

import { BrokerError } from '../errors.js';
import { UnsafeFile, replaceFile } from './privateFile.js';

/** Longest mark file accepted. */
const MAX_MARK_BYTES = 32;

/**
 * 503 `store_rolled_back`: the store file is older than one the broker already saw. No
 * `Retry-After`: asking again gives the same answer until someone removes the stale copy.
 */
export class StoreRolledBack extends BrokerError {
  /**
   * @param path - the store file
   * @param found - the generation sealed in it
   * @param seen - the highest generation seen before
   * @param markPath - the mark file
   */
  constructor(path: string, found: number, seen: number, markPath: string) {
    super(
      'store_rolled_back',
      `The token store file ${path} is an older copy (generation ${found}) than one already used ` +
        `(generation ${seen}): it was restored or copied back, and could bring back a sign-in ` +
        `that was ended, so it is not used. To fix it: remove ${path} and sign in again (every ` +
        `provider is signed out), or, to use this copy anyway, remove ${markPath} and restart ` +
        `the Jupyter server.`
    );
  }
}

/**
 * The mark file of a store file.
 *
 * @param storePath - the store file
 * @returns `<storePath>.generation`
 */
export function markPathOf(storePath: string): string {
  return `${storePath}.generation`;
}

/**
 * Reads a mark file.
 *
 * @param markPath - the mark file
 * @returns the generation in it, 0 when there is none (a store written before marks existed)
 * @throws {@link UnsafeFile} when it holds something else than a generation number
 */
export async function readMark(markPath: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(markPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const mark = /^\d{1,15}\n?$/.test(text) && text.length <= MAX_MARK_BYTES ? Number(text) : NaN;
  if (!Number.isSafeInteger(mark)) {
    throw new UnsafeFile(
      `the generation file ${markPath} does not hold a generation number: remove it`
    );
  }
  return mark;
}

/**
 * Writes a mark file atomically (0600).
 *
 * @param markPath - the mark file
 * @param generation - the generation just written to the store file
 */
export async function writeMark(markPath: string, generation: number): Promise<void> {
  await replaceFile(markPath, Buffer.from(`${generation}\n`, 'utf8'));
}
