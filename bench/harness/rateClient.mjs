#!/usr/bin/env node
/**
 * An open-loop load generator, in its own process: requests start at a constant rate whatever the
 * answers do (a slow server gets more requests in flight, not fewer requests), and each latency is
 * counted from when the request was due, so a stall shows in the figures instead of hiding in a
 * lower rate.
 *
 *   node rateClient.mjs '<json spec>'
 *
 * Spec `{url, headers, body, rps, durationMs, windowMs, maxSockets}`: POSTs `body` to `url` (HTTP/1.1
 * keep-alive, up to `maxSockets` connections). Each answer must be 200 with a JSON token
 * (`access_token`, `expires_at`) that has not expired; anything else is an error. Prints one JSON
 * line per window of `windowMs`: `{window: true, t_s, sent, answered, errors, p50_ms, p99_ms,
 * max_ms, in_flight, new_tokens}`; then one line with the totals: `{done: true, sent, answered,
 * errors, error_kinds, statuses, p50_ms, p99_ms, max_ms, max_in_flight, distinct_tokens,
 * min_seconds_left, elapsed_ms}`.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

const spec = JSON.parse(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: spec.maxSockets ?? 64 });
const body = Buffer.from(spec.body ?? '{}');
const intervalMs = 1000 / spec.rps;
const target = new URL(spec.url);

const totals = { sent: 0, answered: 0, errors: 0, statuses: {}, errorKinds: {} };
const all = [];
let window = { latencies: [], errors: 0, sent: 0, newTokens: 0 };
let inFlight = 0;
let maxInFlight = 0;
const tokens = new Set();
let minSecondsLeft = Infinity;

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = value => (value === null ? null : Number(value.toFixed(2)));

function failed(kind) {
  totals.errors++;
  window.errors++;
  totals.errorKinds[kind] = (totals.errorKinds[kind] ?? 0) + 1;
}

/** Checks one answer: a 200 with a token that is still valid. */
function judge(status, text) {
  totals.statuses[status] = (totals.statuses[status] ?? 0) + 1;
  if (status !== 200) {
    let code = 'unparsable';
    try {
      code = JSON.parse(text).error ?? code;
    } catch {
      // counted as unparsable
    }
    failed(`${status} ${code}`);
    return;
  }
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    failed('200 unparsable');
    return;
  }
  if (typeof answer.access_token !== 'string' || !Number.isInteger(answer.expires_at)) {
    failed('200 without a token');
    return;
  }
  const left = answer.expires_at - Date.now() / 1000;
  minSecondsLeft = Math.min(minSecondsLeft, left);
  if (left <= 0) {
    failed('200 with an expired token');
    return;
  }
  if (!tokens.has(answer.access_token)) {
    tokens.add(answer.access_token);
    window.newTokens++;
  }
}

function send(dueAt) {
  totals.sent++;
  window.sent++;
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  const req = request(
    {
      agent,
      host: target.hostname,
      port: target.port,
      path: target.pathname + target.search,
      method: 'POST',
      headers: {
        ...spec.headers,
        'Content-Type': 'application/json',
        'Content-Length': body.length
      }
    },
    res => {
      const chunks = [];
      res.on('data', chunk => chunks.push(chunk));
      res.on('end', () => {
        inFlight--;
        const latency = performance.now() - dueAt;
        totals.answered++;
        window.latencies.push(latency);
        all.push(latency);
        judge(res.statusCode, Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', () => {
        inFlight--;
        failed('response error');
      });
    }
  );
  req.on('error', err => {
    inFlight--;
    failed(`connection ${err.code ?? err.message}`);
  });
  req.end(body);
}

const started = performance.now();
const deadline = started + spec.durationMs;
let due = 0;
let nextWindow = started + spec.windowMs;

function report(now) {
  const sorted = window.latencies.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      window: true,
      t_s: round((now - started) / 1000),
      sent: window.sent,
      answered: sorted.length,
      errors: window.errors,
      p50_ms: round(percentile(sorted, 50)),
      p99_ms: round(percentile(sorted, 99)),
      max_ms: round(sorted.at(-1) ?? null),
      in_flight: inFlight,
      new_tokens: window.newTokens
    }) + '\n'
  );
  window = { latencies: [], errors: 0, sent: 0, newTokens: 0 };
}

// Every request that is due is sent, whether or not earlier ones were answered.
await new Promise(resolve => {
  const tick = () => {
    const now = performance.now();
    while (
      due * intervalMs + started <= Math.min(now, deadline) &&
      started + due * intervalMs < deadline
    ) {
      send(started + due * intervalMs);
      due++;
    }
    if (now >= nextWindow) {
      report(now);
      nextWindow += spec.windowMs;
    }
    if (now >= deadline) {
      resolve();
      return;
    }
    setTimeout(tick, Math.min(intervalMs, 5));
  };
  tick();
});

// The last requests' answers, at most 30 s.
const waitUntil = performance.now() + 30000;
while (inFlight > 0 && performance.now() < waitUntil) {
  await new Promise(resolve => setTimeout(resolve, 20));
}
if (inFlight > 0) {
  for (let i = 0; i < inFlight; i++) failed('no answer within 30 s');
}
if (window.sent > 0 || window.latencies.length > 0) report(performance.now());
agent.destroy();
all.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    done: true,
    sent: totals.sent,
    answered: totals.answered,
    errors: totals.errors,
    error_kinds: totals.errorKinds,
    statuses: totals.statuses,
    p50_ms: round(percentile(all, 50)),
    p99_ms: round(percentile(all, 99)),
    max_ms: round(all.at(-1) ?? null),
    max_in_flight: maxInFlight,
    distinct_tokens: tokens.size,
    min_seconds_left: Number.isFinite(minSecondsLeft) ? round(minSecondsLeft) : null,
    elapsed_ms: round(performance.now() - started)
  }) + '\n'
);
