/**
 * The Node.js versions the broker runs on. An older Node fails late and obscurely (Web Crypto and
 * fetch features openid-client relies on are missing or behind flags), so the CLI refuses it at
 * start-up, saying which version it found and which it needs.
 */

/** The oldest supported Node.js: 20.19 (as `engines` in package.json says). */
export const MIN_NODE: readonly [major: number, minor: number] = [20, 19];

/**
 * Why a Node.js version cannot run the broker.
 *
 * @param version - `process.versions.node`, e.g. `20.19.1`
 * @returns a sentence naming both versions, or undefined when the version is supported
 * @example
 * ```ts
 * unsupportedNode('18.20.8'); // 'needs Node.js 20.19 or newer; this is Node.js 18.20.8 …'
 * unsupportedNode('22.23.3'); // undefined
 * ```
 */
export function unsupportedNode(version: string): string | undefined {
  const [major, minor] = version.split('.').map(part => Number.parseInt(part, 10));
  const [needMajor, needMinor] = MIN_NODE;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return (
    `needs Node.js ${needMajor}.${needMinor} or newer; this is Node.js ${version}. ` +
    'Run it with a newer node (in Jupyter: c.TokenBroker.node_executable).'
  );
}
