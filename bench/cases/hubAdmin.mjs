/**
 * The hub's token-broker admin API at scale: a real JupyterHub (the hub tests' stack: the demo IdP,
 * GenericOAuthenticator, configure(c), SimpleLocalProcessSpawner) with `users` users holding real
 * hub logins and `running` of them with running servers; the list's latency (`GET admin/users`,
 * first call then `calls` timed calls) and one provider revoked for everyone (`POST admin/revoke`,
 * total time and per-user outcomes). The work is done by `hubAdmin.py` (it says how the users get
 * their logins); this runs it and returns its figures.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { REPO } from '../harness/broker.mjs';
import { privateDir, runJson } from '../harness/processes.mjs';

const PYTHON = join(REPO, '.venv/bin/python');
const SCRIPT = fileURLToPath(new URL('./hubAdmin.py', import.meta.url));
const HUB_TESTS = join(REPO, 'packages/labextension/tests');

/**
 * Runs the case.
 *
 * @param {object} options - `users` (default 500), `running` (default 10), `calls` (timed list
 *   calls, default 20), `provider` (revoked for everyone, default `hub`: the hub login at the IdP
 *   and in auth_state, and the `hub` provider of every running broker).
 * @returns {Promise<object>} `list_first_ms`, `list_p50_ms`, `list_p95_ms`, `revoke_all_s`,
 *   `revoke_outcomes` ({ok, partial, error} counts), `revoke_steps` (target:outcome counts),
 *   `idp_grants_revoked`, the set-up times, and what the list showed before and after.
 */
export async function measureHubAdmin({
  users = 500,
  running = 10,
  calls = 20,
  provider = 'hub'
} = {}) {
  const workdir = privateDir('hubadmin');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(JUPYTER|JUPYTERHUB_|PYTHONPATH)/.test(key))
  );
  env.PYTHONPATH = [join(HUB_TESTS, 'hub'), HUB_TESTS].join(':');
  return runJson(
    PYTHON,
    [
      SCRIPT,
      '--users',
      String(users),
      '--running',
      String(running),
      '--calls',
      String(calls),
      '--provider',
      provider,
      '--workdir',
      workdir
    ],
    // Set-up is most of it: about 0.5 s per login on two streams, and the servers' start.
    { env, timeoutMs: (300 + users * 1.5 + running * 60) * 1000 }
  );
}
