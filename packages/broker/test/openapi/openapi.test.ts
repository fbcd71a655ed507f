import { readFileSync } from 'node:fs';

import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';

import { createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config.js';
import { createContext } from '../../src/context.js';
import { ERROR_STATUS } from '../../src/errors.js';
import { IDLE_KEEPS } from '../../src/idleExit.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every `METHOD /path` the app serves (express's and the plain ones), in OpenAPI path syntax. */
function registeredRoutes(): string[] {
  const app = createApp(createContext(validateConfig({ providers: [] })), 'k'.repeat(32));
  const routes: string[] = [];
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
        for (const method of Object.keys(layer.route.methods)) {
          routes.push(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app.express as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...routes, ...app.plainRoutes].sort();
}

const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'));

/** The keys of a path item that are operations (besides them: summary, description, parameters). */
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

function documentedRoutes(): string[] {
  return Object.entries(spec.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter(key => METHODS.has(key))
        .map(method => `${method.toUpperCase()} ${path}`)
    )
    .sort();
}

describe('openapi.yaml', () => {
  test('documents exactly the routes the app registers', () => {
    const registered = registeredRoutes();
    expect(registered.length).toBeGreaterThanOrEqual(6);
    expect(documentedRoutes()).toEqual(registered);
  });

  test('documents every error code the broker can answer', () => {
    const documented: string[] = spec.components.schemas.ErrorCode.enum;
    expect([...documented].sort()).toEqual(Object.keys(ERROR_STATUS).sort());
  });

  test('every error status used by a code has a response description naming the code', () => {
    const text = JSON.stringify(spec.components.responses);
    for (const code of Object.keys(ERROR_STATUS)) expect(text).toContain(code);
  });

  test('documents every reason the broker gives for not exiting when idle, in its order', () => {
    expect(spec.components.schemas.IdleKeep.enum).toEqual(IDLE_KEEPS);
  });

  test('the token schema has no refresh token', () => {
    expect(Object.keys(spec.components.schemas.Token.properties)).not.toContain('refresh_token');
  });
});
