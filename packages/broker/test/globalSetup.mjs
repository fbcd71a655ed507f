// Builds dist/token-broker.mjs once so the CLI tests run the real bundle, and starts a private
// Secret Service for the keyring store tests (see stores/secretService.mjs).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { provideSecretService } from './stores/secretService.mjs';

export default async function globalSetup() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs')], { stdio: 'inherit' });
  await provideSecretService();
}
