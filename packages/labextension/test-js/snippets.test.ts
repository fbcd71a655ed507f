/**
 * Snippets: each language asks the broker when it runs and never embeds a token.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { languageForKernel, snippet, SNIPPET_LANGUAGES } from '../src/snippets';

const DEMO = { provider: 'demo', scopes: [], url: 'https://api.example.org/' };

describe('snippet', () => {
  it('uses BrokerAuth for Python requests and httpx', () => {
    const requests = snippet('python-requests', DEMO);
    assert.match(requests, /^import requests$/m);
    assert.match(requests, /from jupyter_token_broker import BrokerAuth/);
    assert.match(
      requests,
      /requests\.get\("https:\/\/api\.example\.org\/", auth=BrokerAuth\("demo"\)\)/
    );
    const httpx = snippet('python-httpx', DEMO);
    assert.match(httpx, /httpx\.get\("https:\/\/api\.example\.org\/", auth=BrokerAuth\("demo"\)\)/);
  });

  it('passes chosen scopes', () => {
    const code = snippet('python-requests', { ...DEMO, scopes: ['demo:read', 'openid'] });
    assert.match(code, /BrokerAuth\("demo", scopes=\["demo:read", "openid"\]\)/);
    assert.match(snippet('curl', { ...DEMO, scopes: ['demo:read'] }), /scopes=\["demo:read"\]/);
  });

  it('sends the curl header on stdin, never on the command line', () => {
    const code = snippet('curl', DEMO);
    assert.match(code, /^%%bash$/m);
    assert.match(code, /curl --fail-with-body -sS -H @- 'https:\/\/api\.example\.org\/'/);
    assert.doesNotMatch(code, /Bearer \$\(/);
  });

  it('writes R and JavaScript that run the Python helper', () => {
    const r = snippet('r-httr2', DEMO);
    assert.match(r, /library\(httr2\)/);
    assert.match(r, /req_auth_bearer_token\(broker_token\(\)\)/);
    const js = snippet('javascript-fetch', DEMO);
    assert.match(js, /execFileSync\('python3'/);
    assert.match(js, /Authorization: `Bearer \$\{token\}`/);
  });

  it('quotes hostile URLs and provider ids so they stay strings', () => {
    const url = `https://x.example/'"\\; $(id) \`id\` #`;
    const hostile = { provider: 'de"mo', scopes: [], url };
    // Python parses it and sees the URL and provider as the string constants given.
    const python = snippet('python-requests', hostile).split('\n').slice(1).join('\n');
    const check = [
      'import ast, json, sys',
      'tree = ast.parse(sys.stdin.read())',
      'print(json.dumps([n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]))'
    ].join('\n');
    const constants = JSON.parse(
      execFileSync('python3', ['-c', check], { input: python, encoding: 'utf8' })
    ) as unknown[];
    assert.ok(constants.includes(url) && constants.includes('de"mo'));
    // The shell sees the URL as one word.
    const urlWord = snippet('curl', hostile).split('-H @- ')[1];
    assert.equal(execFileSync('bash', ['-c', `printf %s ${urlWord}`], { encoding: 'utf8' }), url);
    // JavaScript parses (as a module, for the top-level await).
    const dir = mkdtempSync(join(tmpdir(), 'snippet-'));
    const file = join(dir, 'snippet.mjs');
    writeFileSync(file, snippet('javascript-fetch', hostile));
    execFileSync(process.execPath, ['--check', file]);
    rmSync(dir, { recursive: true });
  });

  it('never contains a token', () => {
    for (const { id } of SNIPPET_LANGUAGES) {
      const code = snippet(id, DEMO);
      assert.doesNotMatch(code, /eyJ[A-Za-z0-9_-]{10,}/, id);
      assert.match(code, /get_token|BrokerAuth/, id);
    }
  });

  it('picks the language from the kernel', () => {
    assert.equal(languageForKernel('python'), 'python-requests');
    assert.equal(languageForKernel('R'), 'r-httr2');
    assert.equal(languageForKernel('javascript'), 'javascript-fetch');
    assert.equal(languageForKernel('bash'), 'curl');
    assert.equal(languageForKernel(undefined), 'python-requests');
  });
});
