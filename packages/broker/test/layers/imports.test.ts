/**
 * The broker's import graph: no cycle, and no import running back up the layers. Stores and
 * providers are the bottom (they know nothing of grants, the token service, routes or the wiring);
 * routes and the wiring are the top (nothing below imports them).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, test } from '@jest/globals';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Relative imports and re-exports, type-only ones included (a type cycle is still a knot). */
const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

/** Module (path under src) → the modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map(match =>
      normalize(join(dirname(file), match[1] ?? match[2])).replace(/\.js$/, '.ts')
    );
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const BOTTOM = ['stores/', 'providers/'];
const MIDDLE = ['grants/', 'tokens/'];
const TOP = ['routes/', 'app.ts', 'context.ts', 'server.ts', 'cli.ts', 'index.ts', 'middleware.ts'];
const under = (file: string, layer: string[]): boolean => layer.some(p => file.startsWith(p));

describe('broker imports', () => {
  const graph = importGraph();

  test('every relative import names a source file', () => {
    const unresolved = [...graph].flatMap(([file, targets]) =>
      targets.filter(t => !graph.has(t)).map(t => `${file} -> ${t}`)
    );
    expect(unresolved).toEqual([]);
  });

  test('there is no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  test('no import runs back up the layers', () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets
        .filter(
          target =>
            (under(file, BOTTOM) && (under(target, MIDDLE) || under(target, TOP))) ||
            (!under(file, TOP) && under(target, TOP))
        )
        .map(target => `${file} -> ${target}`)
    );
    expect(upward).toEqual([]);
  });
});
