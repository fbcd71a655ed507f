#!/usr/bin/env node
/**
 * The load generator, run as its own process so it never shares an event loop with the server under
 * test. It speaks HTTP/1.1 keep-alive over raw sockets (unix socket or TCP) with as little work per
 * request as it can, so both the broker and the baseline see the same, cheap client.
 *
 *   node loadClient.mjs '<json spec>'
 *
 * Spec `{mode: "duration", target, request, concurrency, warmupMs, durationMs}`: `concurrency`
 * connections each send the next request as soon as the previous answer is complete; requests that
 * start after the warm-up and end before the deadline count. Prints `{total, requests, rps, p50_ms, p99_ms,
 * statuses, errors}`.
 *
 * Spec `{mode: "burst", targets: [target…], request, total}`: opens `total` connections spread over
 * the targets, sends one request on each as soon as it connects, and waits for every answer. Prints
 * `{statuses, error_codes, connect_retries, errors, elapsed_ms, sent_at}` (`sent_at`: when each
 * request was written, epoch milliseconds).
 *
 * A target is `{socket}` or `{host, port}`; a request is `{method, path, headers, body}`.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const spec = JSON.parse(process.argv[2]);

function requestBytes(request, host) {
  const body = request.body === undefined ? '' : request.body;
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${host}`];
  for (const [name, value] of Object.entries(request.headers ?? {}))
    lines.push(`${name}: ${value}`);
  if (body !== '' || request.method !== 'GET')
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body);
}

/**
 * One keep-alive connection: `send()` resolves with `{status, body}` once the whole answer arrived.
 */
function openConnection(target) {
  return new Promise((resolve, reject) => {
    const socket =
      target.socket !== undefined
        ? connect(target.socket)
        : connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    let waiting;
    const tryParse = () => {
      if (waiting === undefined) return;
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const status = Number(head.slice(9, 12));
      const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let bodyStart = end + 4;
      let total;
      if (lengthMatch) {
        total = bodyStart + Number(lengthMatch[1]);
        if (buffer.length < total) return;
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = buffer.indexOf('0\r\n\r\n', bodyStart);
        if (last < 0) return;
        total = last + 5;
      } else {
        total = bodyStart;
      }
      const body = buffer.subarray(bodyStart, total);
      buffer = buffer.subarray(total);
      const done = waiting;
      waiting = undefined;
      done.resolve({ status, body });
    };
    socket.on('data', chunk => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      tryParse();
    });
    const fail = err => {
      if (waiting) {
        const done = waiting;
        waiting = undefined;
        done.reject(err);
      }
    };
    socket.on('error', err => {
      fail(err);
      reject(err);
    });
    socket.on('close', () => fail(new Error('connection closed')));
    socket.once('connect', () =>
      resolve({
        send: bytes =>
          new Promise((res, rej) => {
            waiting = { resolve: res, reject: rej };
            socket.write(bytes);
          }),
        close: () => socket.destroy()
      })
    );
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const now = () => performance.now();

async function duration() {
  const bytes = requestBytes(spec.request, spec.target.socket ? 'localhost' : spec.target.host);
  const connections = await Promise.all(
    Array.from({ length: spec.concurrency }, () => openConnection(spec.target))
  );
  const started = now();
  const measureFrom = started + spec.warmupMs;
  const deadline = measureFrom + spec.durationMs;
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let total = 0;
  await Promise.all(
    connections.map(async connection => {
      for (;;) {
        const t0 = now();
        if (t0 >= deadline) return;
        try {
          const { status } = await connection.send(bytes);
          const t1 = now();
          total++;
          if (t0 >= measureFrom && t1 <= deadline) {
            latencies.push(t1 - t0);
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
        } catch {
          errors++;
          return;
        }
      }
    })
  );
  for (const connection of connections) connection.close();
  latencies.sort((a, b) => a - b);
  return {
    total,
    requests: latencies.length,
    rps: latencies.length / (spec.durationMs / 1000),
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    statuses,
    errors
  };
}

async function openWithRetry(target, counters) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openConnection(target);
    } catch (err) {
      // A unix socket's listen backlog is finite: a full one answers EAGAIN.
      if (attempt > 200 || !['EAGAIN', 'ECONNREFUSED', 'ECONNRESET'].includes(err.code)) throw err;
      counters.retries++;
      await new Promise(resolve => setTimeout(resolve, 2));
    }
  }
}

async function burst() {
  const started = now();
  const statuses = {};
  const codes = {};
  const counters = { retries: 0 };
  const sentAt = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: spec.total }, async (_, i) => {
      const target = spec.targets[i % spec.targets.length];
      const bytes = requestBytes(spec.request, target.socket ? 'localhost' : target.host);
      let connection;
      try {
        connection = await openWithRetry(target, counters);
        sentAt.push(performance.timeOrigin + now());
        const { status, body } = await connection.send(bytes);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 400) {
          let code = 'unparsable';
          try {
            code = JSON.parse(body.toString('utf8')).error ?? code;
          } catch {
            // counted as unparsable
          }
          codes[code] = (codes[code] ?? 0) + 1;
        }
      } catch {
        errors++;
      } finally {
        connection?.close();
      }
    })
  );
  return {
    statuses,
    error_codes: codes,
    connect_retries: counters.retries,
    errors,
    elapsed_ms: now() - started,
    sent_at: sentAt.map(Math.round)
  };
}

const result = spec.mode === 'burst' ? await burst() : await duration();
process.stdout.write(JSON.stringify(result) + '\n');
