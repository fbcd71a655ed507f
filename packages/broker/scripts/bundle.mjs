// Bundles the CLI into one ESM file that runs with no node_modules around it.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'token-broker.mjs');

await build({
  entryPoints: [join(root, 'src', 'cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  // The OS keychain binding is a native .node file per platform and cannot be inlined. The keyring
  // store loads it lazily (createRequire) from store.module_path or a node_modules next to or above
  // the bundle; without it only the memory and file stores work.
  external: ['@napi-rs/keyring'],
  // express and its dependencies are CommonJS and call require() for node builtins.
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __tbCreateRequire } from 'node:module';",
      'const require = __tbCreateRequire(import.meta.url);'
    ].join('\n')
  }
});
await chmod(outfile, 0o755);
console.warn(`bundled ${outfile}`);
