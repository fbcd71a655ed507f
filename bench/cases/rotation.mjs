/**
 * The rotation race: 1000 concurrent token requests while the access token is expired, against the
 * real oidc-provider rotating its refresh tokens on every use. Counts the IdP's refresh_token grants
 * and the forced logouts (a 401 `login_required`, or a grant gone afterwards); then the same with
 * two broker processes sharing one file store.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { signIn, socketRequest, startBroker, trustedHeaders } from '../harness/broker.mjs';
import { privateDir, runJson, sleep, writePrivate } from '../harness/processes.mjs';

const LOAD_CLIENT = fileURLToPath(new URL('../harness/loadClient.mjs', import.meta.url));

/** Seconds the access token of the sign-in lives: the race starts once it has expired. */
const SHORT_TTL_S = 2;

async function signedIn(broker) {
  const answer = await socketRequest(broker.socket, 'GET', '/api/v1/providers', {
    ...trustedHeaders(broker.key)
  });
  return answer.json?.providers?.find(p => p.id === 'demo')?.signed_in === true;
}

/**
 * Runs one race.
 *
 * @param {object} options - `idp`, `brokers` (started), `total` requests, `tokenDelayMs`.
 * @returns {Promise<object>} upstream refresh calls, failed refreshes, logouts and the answers.
 */
async function race({ idp, brokers, total, tokenDelayMs }) {
  idp.accessTokenTtl = SHORT_TTL_S;
  await signIn(brokers[0], idp);
  // Let every broker see the grant before the token expires, then let it expire.
  for (const broker of brokers.slice(1)) {
    if (!(await signedIn(broker))) throw new Error('the second broker does not see the grant');
  }
  await sleep(SHORT_TTL_S * 1000 + 300);
  idp.accessTokenTtl = 3600;
  idp.tokenDelayMs = tokenDelayMs;
  const before = { refreshes: idp.refreshes, failures: idp.refreshFailures };
  const result = await runJson(process.execPath, [
    LOAD_CLIENT,
    JSON.stringify({
      mode: 'burst',
      total,
      targets: brokers.map(b => ({ socket: b.socket })),
      request: {
        method: 'POST',
        path: '/api/v1/providers/demo/token',
        headers: { ...trustedHeaders(brokers[0].key), 'Content-Type': 'application/json' },
        body: JSON.stringify({ min_ttl: 60 })
      }
    })
  ]);
  idp.tokenDelayMs = 0;
  const { sent_at: sentAt, ...answers } = result;
  // Requests written before the IdP answered the refresh: they all raced for an expired token.
  const inFlight = sentAt.filter(at => at < idp.lastTokenAnswerAt).length;
  const stillSignedIn = [];
  for (const broker of brokers) stillSignedIn.push(await signedIn(broker));
  return {
    upstream_calls: idp.refreshes - before.refreshes + (idp.refreshFailures - before.failures),
    upstream_failures: idp.refreshFailures - before.failures,
    logouts:
      (result.error_codes.login_required ?? 0) + stillSignedIn.filter(signed => !signed).length,
    still_signed_in: stillSignedIn,
    sent_before_refresh_answered: inFlight,
    ...answers
  };
}

/**
 * The race against one broker, and against two brokers sharing a file store.
 *
 * @param {object} options - `idp`, `total`, `tokenDelayMs`, `fileStore` (whether the file store
 *   exists in this checkout).
 * @returns {Promise<{one: object, two: object | null}>} the figures of each race.
 */
export async function measureRotation({ idp, total, tokenDelayMs, fileStore }) {
  const out = { one: null, two: null };
  const single = await startBroker({ issuer: idp.issuer, name: 'race-one' });
  try {
    out.one = await race({ idp, brokers: [single], total, tokenDelayMs });
  } finally {
    await single.stop();
  }
  if (!fileStore) return out;

  const storeDir = privateDir('store');
  const keyFile = join(storeDir, 'store.key');
  writePrivate(keyFile, randomBytes(32).toString('hex') + '\n');
  const store = { type: 'file', path: join(storeDir, 'grants.store'), key_file: keyFile };
  const first = await startBroker({ issuer: idp.issuer, store, name: 'race-a' });
  let second;
  try {
    // One key for both, so that one client request fits either broker.
    second = await startBroker({ issuer: idp.issuer, store, name: 'race-b', key: first.key });
    out.two = await race({ idp, brokers: [first, second], total, tokenDelayMs });
  } finally {
    await first.stop();
    await second?.stop();
  }
  return out;
}
