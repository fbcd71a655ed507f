/**
 * Keeps two known warnings of oidc-provider out of the demo IdP's output, and nothing else, so that a newcomer
 * sees only what matters:
 * - "Unsupported runtime. Use Node.js v22.x LTS …": oidc-provider prints it on every Node.js before 22, but the
 *   demo supports Node.js 20.19 and later and is tested on 20, 22 and 24; on an older Node.js it still shows.
 * - "a quick start development-only in-memory adapter is used, you MUST change it …": the demo IdP keeps its
 *   sessions and grants in memory on purpose; like its signing keys, they are forgotten at every restart.
 *
 * Import it before `oidc-provider`: the runtime check runs when that module is first evaluated.
 */

/** Node.js versions from this one on are supported by the demo (as by the broker). */
const SUPPORTED_NODE = [20, 19];

/**
 * Whether a Node.js version is at least {@link SUPPORTED_NODE}.
 *
 * @param {string} version - `process.versions.node`, e.g. `20.19.2`.
 * @returns {boolean} whether it is supported.
 */
function supportedNode(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > SUPPORTED_NODE[0] || (major === SUPPORTED_NODE[0] && minor >= SUPPORTED_NODE[1]);
}

/** The warnings to drop, matched at the start of the text (after any colour codes). */
const KNOWN_WARNINGS = [
  ...(supportedNode(process.versions.node)
    ? [/^oidc-provider WARNING: Unsupported runtime\. /]
    : []),
  /^oidc-provider WARNING: a quick start development-only in-memory adapter is used, /
];

const warn = console.warn.bind(console);
console.warn = (...args) => {
  // oidc-provider colours the line (ESC [ … m) when stderr is a terminal.
  const first = typeof args[0] === 'string' ? args[0] : '';
  const text = first.startsWith('\u001b[') ? first.slice(first.indexOf('m') + 1) : first;
  if (!KNOWN_WARNINGS.some(pattern => pattern.test(text))) {
    warn(...args);
  }
};
