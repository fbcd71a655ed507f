/**
 * The test stack's addresses: `playwright.config.ts` picks free ports once and hands them to every worker in
 * the environment.
 */

/**
 * Reads one of the stack's ports from the environment.
 *
 * @param name - the variable, e.g. `UI_TESTS_API_PORT`.
 * @returns the port.
 * @throws when the variable is not set (the specs run only through `playwright.config.ts`).
 */
function stackPort(name: string): number {
  const port = Number(process.env[name]);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(
      `${name} is not set: run the specs with playwright.config.ts, which picks the ports`
    );
  }
  return port;
}

/** The file every process of the test stack logs to (`--log-file` of the launcher). */
export const STACK_LOG = (() => {
  const file = process.env.UI_TESTS_STACK_LOG;
  if (!file) {
    throw new Error('UI_TESTS_STACK_LOG is not set: run the specs with playwright.config.ts');
  }
  return file;
})();

/** The demo IdP's issuer in the test stack. */
export const DEMO_ISSUER = `http://127.0.0.1:${stackPort('UI_TESTS_IDP_PORT')}`;

/** The demo API in the test stack. */
export const DEMO_API_URL = `http://127.0.0.1:${stackPort('UI_TESTS_API_PORT')}`;
