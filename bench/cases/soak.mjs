/**
 * The soak: token requests through a real Jupyter server at a constant rate (open loop: 200 a second
 * by default, whatever the answers do) for minutes, against an IdP whose access tokens live 5 s and
 * whose refresh tokens rotate on every use. Every answer must be a valid token; the IdP counts the
 * refreshes, which are compared with the token expiries the run spans and with the tokens handed
 * out; the resident memory of the broker and of the Jupyter server is sampled every window
 * (10 s) and must stay flat.
 */
import { fileURLToPath } from 'node:url';

import { BUNDLE } from '../harness/broker.mjs';
import { CLIENT_ID, SCOPES, startIdp } from '../harness/idp.mjs';
import { signInThroughJupyter, startJupyter } from '../harness/jupyter.mjs';
import { cpuMs, rssKiB, streamJson } from '../harness/processes.mjs';

const RATE_CLIENT = fileURLToPath(new URL('../harness/rateClient.mjs', import.meta.url));

/** Whether memory grew less than `allowed` (a fraction) from the quarter mark to the end. */
function flat(series, allowed) {
  if (series.length < 2) return { start_kib: null, end_kib: null, growth: null, flat: null };
  const start = series[Math.floor(series.length / 4)];
  const end = series.at(-1);
  const growth = (end - start) / start;
  return { start_kib: start, end_kib: end, growth, flat: growth < allowed };
}

/**
 * Runs the soak.
 *
 * @param {object} options - `idpPort`, `jupyterPort`, `seconds`, `rps`, `tokenTtl` (the IdP's access
 *   token lifetime), `windowSeconds` (sampling period), `body` (the token request's JSON body),
 *   `say` (prints a line), `rssGrowthAllowed` (fraction, default 0.1).
 * @returns {Promise<object>} the figures: totals of the load client, IdP refreshes and their ratio
 *   to expiries and to tokens served, and the RSS series and growth of both processes.
 */
export async function measureSoak({
  idpPort,
  jupyterPort,
  seconds,
  rps,
  tokenTtl,
  windowSeconds = 10,
  body = {},
  say,
  rssGrowthAllowed = 0.1
}) {
  const idp = await startIdp({
    port: idpPort,
    redirectUris: [`http://127.0.0.1:${jupyterPort}/token-broker/api/v1/callback`]
  });
  let jupyter;
  try {
    jupyter = await startJupyter({
      port: jupyterPort,
      name: 'soak',
      brokerScript: BUNDLE,
      providers: [
        {
          id: 'demo',
          title: 'Soak IdP',
          kind: 'oidc',
          issuer: idp.issuer,
          client_id: CLIENT_ID,
          scopes: SCOPES
        }
      ]
    });
    idp.accessTokenTtl = tokenTtl;
    // The sign-in starts the broker (the extension starts it on first use).
    await signInThroughJupyter(jupyter, idp, 'demo');
    const brokerPid = jupyter.brokerPid();
    if (brokerPid === undefined) throw new Error('no broker process under the Jupyter server');

    const before = { refreshes: idp.refreshes, failures: idp.refreshFailures };
    const series = { t_s: [], broker_kib: [], jupyter_kib: [], broker_cpu: [], jupyter_cpu: [] };
    const windows = [];
    let cpuBefore = { broker: cpuMs(brokerPid), jupyter: cpuMs(jupyter.pid), at: Date.now() };
    // RSS, and the share of one core each process used since the last sample.
    const sample = t => {
      const cpu = { broker: cpuMs(brokerPid), jupyter: cpuMs(jupyter.pid), at: Date.now() };
      const wall = Math.max(1, cpu.at - cpuBefore.at);
      series.t_s.push(t);
      series.broker_kib.push(rssKiB(brokerPid));
      series.jupyter_kib.push(rssKiB(jupyter.pid));
      series.broker_cpu.push((cpu.broker - cpuBefore.broker) / wall);
      series.jupyter_cpu.push((cpu.jupyter - cpuBefore.jupyter) / wall);
      cpuBefore = cpu;
    };
    sample(0);
    const mb = kib => (kib / 1024).toFixed(1);
    const pct = share => `${(share * 100).toFixed(0)}%`;
    const totals = await streamJson(
      process.execPath,
      [
        RATE_CLIENT,
        JSON.stringify({
          url: `${jupyter.api}providers/demo/token`,
          headers: {
            Authorization: `token ${jupyter.token}`,
            Accept: 'application/json',
            'X-Token-Broker-Client': 'kernel'
          },
          body: JSON.stringify(body),
          rps,
          durationMs: seconds * 1000,
          windowMs: windowSeconds * 1000,
          maxSockets: 64
        })
      ],
      line => {
        if (!line.window) return;
        sample(line.t_s);
        windows.push(line);
        say?.(
          `  ${line.t_s.toFixed(0).padStart(4)} s: ${line.answered} answered, ${line.errors} errors, ` +
            `p50 ${line.p50_ms} ms, p99 ${line.p99_ms} ms, ${line.new_tokens} new tokens, ` +
            `${idp.refreshes - before.refreshes} refreshes so far; RSS broker ` +
            `${mb(series.broker_kib.at(-1))} MB, jupyter ${mb(series.jupyter_kib.at(-1))} MB; CPU ` +
            `broker ${pct(series.broker_cpu.at(-1))}, jupyter ${pct(series.jupyter_cpu.at(-1))}`
        );
      },
      { timeoutMs: (seconds + 120) * 1000 }
    );
    const elapsed = totals.elapsed_ms / 1000;
    const refreshes = idp.refreshes - before.refreshes;
    const refreshFailures = idp.refreshFailures - before.failures;
    const expiries = elapsed / tokenTtl;
    return {
      seconds: elapsed,
      rps_target: rps,
      rps: totals.answered / elapsed,
      token_ttl_s: tokenTtl,
      requests: totals.sent,
      errors: totals.errors,
      error_kinds: totals.error_kinds,
      statuses: totals.statuses,
      p50_ms: totals.p50_ms,
      p99_ms: totals.p99_ms,
      max_ms: totals.max_ms,
      max_in_flight: totals.max_in_flight,
      min_seconds_left: totals.min_seconds_left,
      refreshes,
      refresh_failures: refreshFailures,
      expiries,
      refreshes_per_expiry: refreshes / expiries,
      // Every refresh's token is handed out (none lost to a race): the tokens seen, less the one
      // the sign-in gave, one per refresh.
      distinct_tokens: totals.distinct_tokens,
      refreshes_per_token_served: refreshes / Math.max(1, totals.distinct_tokens - 1),
      rss: {
        series,
        broker: flat(series.broker_kib, rssGrowthAllowed),
        jupyter: flat(series.jupyter_kib, rssGrowthAllowed)
      },
      windows
    };
  } finally {
    await jupyter?.stop();
    await idp.close();
  }
}
