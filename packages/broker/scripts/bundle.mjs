// Bundles the CLI into one ESM file that runs with no node_modules around it.
//
// The broker starts with every user's Jupyter server and its memory is multiplied by every user of
// a hub, so the bundle is made to load little: it is minified, a package that npm installed several
// times at the same version (mime-db and mime-types sit under express, accepts, type-is and send)
// is bundled once, the parts of express the broker never uses (its body parsers, static file server
// and extended query parser, which would load zlib, iconv-lite tables and qs at start) are left out,
// and the MIME database keeps only the media types a JSON API and its callback page answer with.
import { build } from 'esbuild';
import { chmod, readFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'token-broker.mjs');

/**
 * Parts of express the broker does not use: its body parsers and static file server
 * (`express.json()` and friends throw if called), and qs, which only the `extended` query parser
 * calls (the broker keeps express 5's default, `simple`).
 */
const UNUSED = ['body-parser', 'serve-static', 'qs'];

/** Leaves out the modules in {@link UNUSED}. */
const leaveOutUnused = {
  name: 'leave-out-unused',
  setup(b) {
    const filter = new RegExp(`^(${UNUSED.join('|')})$`);
    b.onResolve({ filter }, args => ({ path: args.path, namespace: 'unused' }));
    b.onLoad({ filter: /.*/, namespace: 'unused' }, args => ({
      loader: 'js',
      contents: `const unused = () => { throw new Error('${args.path} is not in the broker bundle'); };
module.exports = new Proxy(unused, { get: (_t, name) => (name === '__esModule' ? false : unused) });`
    }));
  }
};

/**
 * Media types kept from mime-db (express looks them up for `res.type()`, `res.json()`,
 * `req.accepts()`, `req.is()`). The whole database is 2,500 types that mime-types indexes at start,
 * about 4 MB of memory in every user's broker. A type not listed here looks up as unknown (express
 * then sends `application/octet-stream`): add it here before a route answers with it.
 */
const MEDIA_TYPES = [
  'application/javascript',
  'application/json',
  'application/octet-stream',
  'application/problem+json',
  'application/x-www-form-urlencoded',
  'application/xml',
  'application/yaml',
  'image/png',
  'image/svg+xml',
  'multipart/form-data',
  'text/css',
  'text/html',
  'text/javascript',
  'text/plain',
  'text/xml',
  'text/yaml'
];

/** Keeps only {@link MEDIA_TYPES} of mime-db. */
const fewMediaTypes = {
  name: 'few-media-types',
  setup(b) {
    b.onLoad({ filter: /[\\/]mime-db[\\/]db\.json$/ }, async args => {
      const db = JSON.parse(await readFile(args.path, 'utf8'));
      const missing = MEDIA_TYPES.filter(type => db[type] === undefined);
      if (missing.length > 0) throw new Error(`mime-db has no ${missing.join(', ')}`);
      return {
        loader: 'json',
        contents: JSON.stringify(Object.fromEntries(MEDIA_TYPES.map(type => [type, db[type]])))
      };
    });
  }
};

/**
 * Compiles WebAssembly with V8's baseline compiler only. The broker's one WebAssembly module is the
 * HTTP parser of Node's fetch (undici's llhttp), compiled on Node 20 as soon as anything touches
 * `Headers` or `Response` (openid-client does on the first provider use); V8 also compiles it with
 * TurboFan and keeps that compiler's memory: with this flag a broker's RSS after its first provider
 * use on Node 20 is about 8 MB lower (66.6 to 58.2 MB, 1.47 to 1.29 times a bare node:http process).
 * The cache-hit token path parses HTTP natively, not with WebAssembly. Set here, before any other
 * code of the bundle runs, rather than on node's command line: a V8 flag there changes the flag
 * hash that Node's built-in code cache is checked against, so every start would compile Node's own
 * modules from source (about 30 ms more CPU and 1 MB more RSS at start on Node 20). Node 20, 22 and
 * 24 all take it at run time (`v8.cachedDataVersionTag()` changes as with the command-line flag).
 * See `jupyter_token_broker/node_flags.py` for what else was tried.
 */
const WASM_BASELINE_ONLY = ["__tbSetV8Flags('--liftoff-only');"];

/** The package directory and `name@version` of a file inside node_modules, if it is in one. */
async function packageOf(path) {
  const at = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (at < 0) return undefined;
  const rest = path.slice(at + 14).split(sep);
  const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  const dir = path.slice(0, at + 14) + name.split('/').join(sep);
  const { version } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  return { dir, id: `${name}@${version}` };
}

/** Bundles one copy of each package version, however many times npm installed it. */
const dedupe = {
  name: 'dedupe',
  setup(b) {
    const first = new Map();
    b.onResolve({ filter: /^[^./]/ }, async args => {
      if (args.pluginData?.dedupe || args.path.startsWith('node:')) return undefined;
      const resolved = await b.resolve(args.path, {
        resolveDir: args.resolveDir,
        kind: args.kind,
        importer: args.importer,
        pluginData: { dedupe: true }
      });
      if (resolved.errors.length > 0 || resolved.external) return resolved;
      const pkg = await packageOf(resolved.path);
      if (pkg === undefined) return resolved;
      const key = pkg.id + resolved.path.slice(pkg.dir.length);
      if (!first.has(key)) first.set(key, resolved.path);
      return { ...resolved, path: first.get(key) };
    });
  }
};

await build({
  entryPoints: [join(root, 'src', 'cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [leaveOutUnused, dedupe, fewMediaTypes],
  // The OS keychain binding is a native .node file per platform and cannot be inlined. The keyring
  // store loads it lazily (createRequire) from store.module_path or a node_modules next to or above
  // the bundle; without it only the memory and file stores work.
  external: ['@napi-rs/keyring'],
  // express and its dependencies are CommonJS and call require() for node builtins.
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __tbCreateRequire } from 'node:module';",
      "import { setFlagsFromString as __tbSetV8Flags } from 'node:v8';",
      ...WASM_BASELINE_ONLY,
      'const require = __tbCreateRequire(import.meta.url);'
    ].join('\n')
  }
});
await chmod(outfile, 0o755);
console.warn(`bundled ${outfile}`);
