/**
 * Issue 11, defect 9: what the log writes. Redaction cut out only values that were entirely a
 * token (not `Bearer …`, a JSON field inside a message, `?code=…`) yet hid a long socket path; an
 * uncaught exception's trace went to stderr around the redacting logger; and every request refused
 * during a backoff logged an error line (about ten a second under a polling client).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { createLogger } from '../../src/log.js';
import { startBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

/** Token-shaped secrets, as an IdP would issue them. */
const ACCESS = `at-${randomBytes(24).toString('base64url')}`;
const REFRESH = `rt-${randomBytes(24).toString('base64url')}`;
const CODE = randomBytes(24).toString('base64url');
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'debug', sink: line => lines.push(line) }) };
}

describe('redaction inside values', () => {
  test('a Bearer header, a JSON field in a message and ?code= in a URL are cut out', () => {
    const { lines, log } = capture();
    log.error('request_failed', {
      reason: `upstream said 401 to Authorization: Bearer ${ACCESS}`,
      detail: `answer was {"access_token":"${ACCESS}","refresh_token":"${REFRESH}","expires_in":60}`,
      url: `http://localhost:8888/user/alice/token-broker/api/v1/callback?code=${CODE}&state=s1`,
      body: `grant_type=refresh_token&refresh_token=${REFRESH}`,
      note: `the IdP echoed ${JWT} back`,
      cause: new Error(`token endpoint refused refresh_token=${REFRESH}`)
    });
    const out = lines.join('\n');
    for (const secret of [ACCESS, REFRESH, CODE, JWT]) expect(out).not.toContain(secret);
    const line = JSON.parse(lines[0]);
    expect(line.reason).toBe('upstream said 401 to Authorization: Bearer [redacted]');
    expect(line.url).toMatch(/callback\?code=\[redacted\]&state=\[redacted\]$/);
    expect(line.detail).toContain('"expires_in":60');
    expect(line.body).toBe('grant_type=refresh_token&refresh_token=[redacted]');
  });

  test('a long socket path stays readable; words stay words', () => {
    const { lines, log } = capture();
    const socket =
      '/run/user/1000/jupyter/runtime/token-broker-3f2a9c1e7b5d4a6f8e0c2b1a9d7e5f3c/broker.sock';
    log.info('listening', {
      socket,
      reason: 'the IdP advertises authorization_response_iss_parameter_supported'
    });
    const line = JSON.parse(lines[0]);
    expect(line.socket).toBe(socket);
    expect(line.reason).toContain('authorization_response_iss_parameter_supported');
  });
});

describe('an uncaught exception', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'tb-crashlog-'));
    await chmod(base, 0o700);
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('goes through the redacting log as one JSON line, and the broker exits 1', async () => {
    const bundle = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));
    const script = join(base, 'token-broker.mjs');
    await copyFile(bundle, script);
    await writeFile(join(base, 'key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    await writeFile(
      join(base, 'config.json'),
      JSON.stringify({
        providers: [
          {
            id: 'demo',
            title: 'Demo',
            kind: 'oidc',
            issuer: 'http://127.0.0.1:9599',
            client_id: 'c',
            scopes: ['openid']
          }
        ]
      }),
      { mode: 0o600 }
    );
    // A bug somewhere in the process throws, with a token in its message, once the broker runs
    // (or after 3 s, when the broker never takes over uncaught exceptions).
    const bug = join(base, 'bug.mjs');
    await writeFile(
      bug,
      `const started = Date.now();
       const timer = setInterval(() => {
         if (process.listenerCount('uncaughtException') > 0 || Date.now() - started > 3000) {
           clearInterval(timer);
           throw new Error('refresh failed: Authorization: Bearer ${ACCESS} body refresh_token=${REFRESH}');
         }
       }, 50);\n`
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        bug,
        script,
        'serve',
        '--config',
        join(base, 'config.json'),
        '--key-file',
        join(base, 'key'),
        '--socket',
        join(base, 'b.sock')
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } }
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>(resolve => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).not.toContain(ACCESS);
    expect(stderr).not.toContain(REFRESH);
    const lines = stderr.trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    const crash = lines.map(l => JSON.parse(l)).find(l => l.event === 'uncaught_exception');
    expect(crash).toMatchObject({ level: 'error' });
    expect(crash.error.message).toContain('Bearer [redacted]');
    expect(crash.error.stack).toContain('bug.mjs');
  }, 20000);
});

describe('a backoff', () => {
  let idp: IdP;
  beforeAll(async () => {
    idp = await startIdP();
  });
  afterAll(async () => {
    await idp.close();
  });

  test('logs its start and its end once, not an error for every refused request; each still gets 503', async () => {
    const broker = await startBroker(idp);
    try {
      expect((await broker.login()).status).toBe(200);
      idp.down = true;
      broker.advance(3600);
      const answers = [];
      for (let i = 0; i < 20; i++) {
        answers.push(await broker.request('POST', '/api/v1/providers/demo/token', { body: {} }));
      }
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.json.error).toBe('upstream_unavailable');
        expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      }
      const lines = broker.logs.map(l => JSON.parse(l));
      const errors = lines.filter(l => l.level === 'error');
      expect(errors).toHaveLength(1); // the request that met the outage
      const loud = lines.filter(
        l => l.level !== 'debug' && l.path === '/api/v1/providers/demo/token'
      );
      expect(loud.length).toBeLessThanOrEqual(3);
      expect(lines.filter(l => l.event === 'requests_refused_repeatedly')).toHaveLength(1);

      // The IdP is back: once the backoff is over, the next request refreshes and the end of the
      // backoff is said once.
      idp.down = false;
      broker.advance(120);
      expect(
        (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
      ).toBe(200);
      await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
      const ended = broker.logs.map(l => JSON.parse(l)).filter(l => l.event === 'backoff_ended');
      expect(ended).toEqual([expect.objectContaining({ provider: 'demo', failed_calls: 1 })]);
    } finally {
      idp.down = false;
      await broker.close();
    }
  });
});
