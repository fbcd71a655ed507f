#!/usr/bin/env node
/**
 * Copies the bundled broker (`packages/broker/dist/token-broker.mjs`) into the Python package, where the server
 * extension launches it from: `jupyter_token_broker/broker/token-broker.mjs`.
 *
 *   node scripts/copy-broker.mjs
 *
 * Run from `packages/labextension` (`npm run build:broker`) after the broker's own build.
 */

import { chmod, copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', '..', 'broker', 'dist', 'token-broker.mjs');
const target = join(here, '..', 'jupyter_token_broker', 'broker', 'token-broker.mjs');

try {
  await stat(source);
} catch {
  process.stderr.write(
    `copy-broker: ${relative(process.cwd(), source)} is missing; build the broker first ` +
      '(npm run build -w @jupyter-token-broker/broker)\n'
  );
  process.exit(1);
}

await mkdir(dirname(target), { recursive: true });
await copyFile(source, target);
// The bundle is run with `node`, not executed directly; a plain readable file is all it needs.
await chmod(target, 0o644);
process.stdout.write(`copy-broker: ${relative(process.cwd(), target)}\n`);
