/**
 * Cold start-to-ready and idle resident memory of the broker as it ships (the bundle the Python
 * package launches, started the way the server extension starts it, with its Node.js flags), against
 * a bare node:http process on a unix socket that prints a ready line (plain `node`, no flags),
 * measured alternately in the same run.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NODE_FLAGS, brokerRunDir, socketRequest, trustedHeaders } from '../harness/broker.mjs';
import { median, privateDir, rssKiB, sleep, startReady } from '../harness/processes.mjs';

const BARE_HTTP = fileURLToPath(new URL('../servers/bare-http.mjs', import.meta.url));

/** What a supervisor and a first page load ask before anyone is signed in. */
async function touch(server) {
  for (let i = 0; i < 3; i++) {
    await socketRequest(server.socket, 'GET', '/api/v1/health', {});
  }
  await socketRequest(
    server.socket,
    'POST',
    '/api/v1/providers/demo/token',
    { ...trustedHeaders(server.key), 'Content-Type': 'application/json' },
    '{"min_ttl":60}'
  );
}

/**
 * Measures both, alternating.
 *
 * @param {object} options - `issuer`, `starts` (repetitions of cold start), `rssSamples`,
 *   `settleMs`.
 * @returns {Promise<object>} medians and ratios: `idle_rss_ratio` (broker before any provider use)
 *   and `rss_after_use_ratio` (after the provider list has discovered the IdP), each over the bare
 *   process's RSS; `node_flags`, the flags the broker ran with.
 */
export async function measureFootprint({
  issuer,
  starts,
  rssSamples,
  settleMs,
  node = process.execPath
}) {
  const startMs = { broker: [], bare: [] };
  const rss = { broker: [], bare: [], brokerAfterProviders: [] };
  for (let i = 0; i < starts; i++) {
    for (const kind of i % 2 ? ['bare', 'broker'] : ['broker', 'bare']) {
      let server;
      if (kind === 'broker') {
        const run = brokerRunDir({ issuer, name: 'cold' });
        server = { ...run, ...(await startReady(node, run.args)) };
      } else {
        const dir = privateDir('bare');
        const socket = join(dir, 'bare.sock');
        server = {
          socket,
          key: 'none',
          ...(await startReady(node, [BARE_HTTP, socket]))
        };
      }
      startMs[kind].push(server.startMs);
      if (i < rssSamples) {
        await touch(server);
        await sleep(settleMs);
        rss[kind].push(rssKiB(server.child.pid));
        if (kind === 'broker') {
          // The provider list discovers the IdP, which loads openid-client.
          await socketRequest(
            server.socket,
            'GET',
            '/api/v1/providers',
            trustedHeaders(server.key)
          );
          await sleep(300);
          await socketRequest(
            server.socket,
            'GET',
            '/api/v1/providers',
            trustedHeaders(server.key)
          );
          await sleep(settleMs);
          rss.brokerAfterProviders.push(rssKiB(server.child.pid));
        }
      }
      await server.stop();
    }
  }
  const result = {
    start_ms: { broker: median(startMs.broker), bare: median(startMs.bare) },
    rss_kib: {
      broker: median(rss.broker),
      bare: median(rss.bare),
      broker_after_provider_use: median(rss.brokerAfterProviders)
    },
    samples: { start_ms: startMs, rss_kib: rss }
  };
  result.cold_start_ratio = result.start_ms.broker / result.start_ms.bare;
  result.idle_rss_ratio = result.rss_kib.broker / result.rss_kib.bare;
  result.rss_after_use_ratio = result.rss_kib.broker_after_provider_use / result.rss_kib.bare;
  result.node_flags = NODE_FLAGS;
  return result;
}
