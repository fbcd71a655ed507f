/**
 * The audit file sink under load and trouble: concurrent token requests are each recorded exactly
 * once and before their answer (group commit), rotation under concurrency neither loses nor splits a
 * line, a broken trail refuses calls with 503 and recovers by itself once fixed, and a file removed
 * or rotated by someone else is noticed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { type AuditEvent } from '../../src/audit.js';
import { AuditFile } from '../../src/auditFile.js';
import { createLogger } from '../../src/log.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

/** The events of one file, oldest first; throws on a line that is not a whole JSON object. */
function linesOf(file: string): AuditEvent[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map(line => JSON.parse(line) as AuditEvent);
}

/** The whole trail, oldest first: `path.{keep}` … `path.1`, then `path`. */
function trailOf(path: string, keep: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = keep; i >= 1; i--) out.push(...linesOf(`${path}.${i}`));
  out.push(...linesOf(path));
  return out;
}

const token = (broker: TestBroker, client: string): ReturnType<TestBroker['request']> =>
  broker.request('POST', '/api/v1/providers/demo/token', {
    body: {},
    headers: { 'x-broker-client': client }
  });

describe('audit file under concurrent token requests', () => {
  let idp: IdP;
  let dir: string;
  const brokers: TestBroker[] = [];

  beforeAll(async () => {
    idp = await startIdP();
    dir = await mkdtemp(join(tmpdir(), 'tb-auditfile-'));
  });
  afterEach(async () => {
    for (const broker of brokers.splice(0)) {
      await broker.close();
      await broker.context.audit.close();
    }
  });
  afterAll(async () => {
    await idp.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('every issue is in the file exactly once, and already there when its answer arrives', async () => {
    const path = join(dir, 'group.jsonl');
    const broker = await startBroker(idp, { config: { audit: { path } } });
    brokers.push(broker);
    expect((await broker.login()).status).toBe(200);
    const issuedBefore = (): number =>
      linesOf(path).filter(e => e.type === 'issue' && e.outcome === 'ok').length;
    const before = issuedBefore();

    const total = 200;
    let answered = 0;
    const shortfalls: number[] = [];
    const answers = await Promise.all(
      Array.from({ length: total }, (_, i) =>
        token(broker, i % 2 === 0 ? 'kernel' : 'jupyterlab').then(answer => {
          answered += 1;
          // The answer is sent only after the write that carries its event.
          const inFile = issuedBefore() - before;
          if (inFile < answered) shortfalls.push(answered - inFile);
          return answer;
        })
      )
    );
    expect(answers.map(a => a.status)).toEqual(Array(total).fill(200));
    expect(shortfalls).toEqual([]);

    const file = linesOf(path);
    const issues = file.filter(e => e.type === 'issue' && e.outcome === 'ok');
    expect(issues).toHaveLength(before + total);
    const clients = issues.slice(before).map(e => e.client);
    expect(clients.filter(c => c === 'kernel')).toHaveLength(total / 2);
    expect(clients.filter(c => c === 'jupyterlab')).toHaveLength(total / 2);
    // The file holds the events in the order they were recorded: the ring's order.
    const ring = (await broker.request('GET', '/api/v1/events?limit=1000')).json.events;
    expect(file.slice(-ring.length)).toEqual([...ring].reverse());
    expect((await stat(path)).mode & 0o077).toBe(0);
  });

  test('rotation under concurrency loses no line and splits none across files', async () => {
    const path = join(dir, 'rotating.jsonl');
    const keep = 100;
    const broker = await startBroker(idp, { config: { audit: { path, max_bytes: 1024, keep } } });
    brokers.push(broker);
    expect((await broker.login()).status).toBe(200);
    const total = 150;
    const answers = await Promise.all(
      Array.from({ length: total }, (_, i) => token(broker, i % 2 === 0 ? 'kernel' : 'jupyterlab'))
    );
    expect(answers.map(a => a.status)).toEqual(Array(total).fill(200));

    const files = [path, ...Array.from({ length: keep }, (_, i) => `${path}.${i + 1}`)].filter(f =>
      existsSync(f)
    );
    expect(files.length).toBeGreaterThan(10);
    expect(files.length).toBeLessThan(keep);
    for (const file of files) {
      expect((await stat(file)).size).toBeLessThanOrEqual(1024);
      expect((await stat(file)).mode & 0o077).toBe(0);
    }
    const trail = trailOf(path, keep); // parses every line of every file
    expect(trail.filter(e => e.type === 'issue' && e.outcome === 'ok')).toHaveLength(total);
    const ring = (await broker.request('GET', '/api/v1/events?limit=1000')).json.events;
    expect(trail).toEqual([...ring].reverse());
  });

  test('a trail that cannot be written refuses calls with 503, and works again once fixed', async () => {
    const sub = join(dir, 'trail');
    await mkdir(sub);
    const path = join(sub, 'audit.jsonl');
    const broker = await startBroker(idp, { config: { audit: { path } } });
    brokers.push(broker);
    expect((await broker.login()).status).toBe(200);
    expect((await token(broker, 'kernel')).status).toBe(200);

    // The directory goes away and a file takes its place: no write can succeed (even as root).
    await rm(sub, { recursive: true });
    await writeFile(sub, 'not a directory');
    const broken = await Promise.all(Array.from({ length: 20 }, () => token(broker, 'kernel')));
    for (const answer of broken) {
      expect(answer.status).toBe(503);
      expect(answer.json.error).toBe('store_unavailable');
      expect(answer.text).not.toContain('access_token');
    }
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(503);
    expect(broker.logs.filter(l => l.includes('audit_write_failed'))).toHaveLength(1);

    // Fixed: the next calls open the file again, without a restart.
    await unlink(sub);
    await mkdir(sub);
    const again = await Promise.all(Array.from({ length: 20 }, () => token(broker, 'kernel')));
    expect(again.map(a => a.status)).toEqual(Array(20).fill(200));
    const issues = linesOf(path).filter(e => e.type === 'issue' && e.outcome === 'ok');
    expect(issues).toHaveLength(20);
    expect(broker.logs.some(l => l.includes('audit_writable_again'))).toBe(true);
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    expect(linesOf(path).at(-1)).toMatchObject({ type: 'logout', outcome: 'ok' });
    expect((await stat(path)).mode & 0o077).toBe(0);
  });
});

describe('audit file moved or removed by someone else', () => {
  let dir: string;
  const log = createLogger({ sink: () => undefined });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-auditfile-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a removed file is recreated and the line written there', async () => {
    const path = join(dir, 'removed.jsonl');
    const file = new AuditFile({ path, maxBytes: 1 << 20, keep: 2, log });
    await file.append('{"n":1}\n');
    await unlink(path);
    await file.append('{"n":2}\n');
    expect(await readFile(path, 'utf8')).toBe('{"n":2}\n');
    await file.close();
  });

  test('after an outside rotation (logrotate) the path is opened anew within recheckMs', async () => {
    const path = join(dir, 'logrotate.jsonl');
    let now = 0;
    const file = new AuditFile({
      path,
      maxBytes: 1 << 20,
      keep: 2,
      log,
      recheckMs: 1000,
      monotonic: () => now
    });
    await file.append('{"n":1}\n');
    await rename(path, `${path}-20240101`);
    await file.append('{"n":2}\n'); // before the recheck: still in the moved file, not lost
    now += 1000;
    await file.append('{"n":3}\n');
    expect(await readFile(`${path}-20240101`, 'utf8')).toBe('{"n":1}\n{"n":2}\n');
    expect(await readFile(path, 'utf8')).toBe('{"n":3}\n');
    await file.close();
  });

  test('lines appended together are written in order, each settled only once it is in the file', async () => {
    const path = join(dir, 'batch.jsonl');
    const file = new AuditFile({ path, maxBytes: 1 << 20, keep: 2, log });
    const late: number[] = [];
    await Promise.all(
      Array.from({ length: 500 }, (_, n) =>
        file.append(`{"n":${n}}\n`).then(() => {
          if (!readFileSync(path, 'utf8').includes(`{"n":${n}}\n`)) late.push(n);
        })
      )
    );
    expect(late).toEqual([]);
    expect(linesOf(path).map(e => (e as unknown as { n: number }).n)).toEqual(
      Array.from({ length: 500 }, (_, n) => n)
    );
    await file.close();
  });
});
