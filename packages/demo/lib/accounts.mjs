/**
 * The demo identity provider's user directory: two fixed people, one shared demo password.
 *
 * Nothing here is a secret: the password is printed in the login form and in the README.
 */

/** The password every demo user signs in with. */
export const DEMO_PASSWORD = 'demo';

/** @type {ReadonlyMap<string, Readonly<{name: string, email: string}>>} */
const PEOPLE = new Map([
  ['alice', Object.freeze({ name: 'Alice Archivist', email: 'alice@example.org' })],
  ['bob', Object.freeze({ name: 'Bob Observer', email: 'bob@example.org' })]
]);

/**
 * Checks a username/password pair against the demo directory.
 *
 * @param {string} username - what the person typed as username.
 * @param {string} password - what the person typed as password.
 * @returns {string | undefined} the account id (the username) when both match, else undefined.
 * @example
 * authenticate('alice', 'demo'); // 'alice'
 */
export function authenticate(username, password) {
  return PEOPLE.has(username) && password === DEMO_PASSWORD ? username : undefined;
}

/**
 * The claims of one demo account, as the OpenID scopes `profile` and `email` release them.
 *
 * @param {string} accountId - a username from the directory.
 * @returns {{sub: string, name: string, preferred_username: string, email: string, email_verified: boolean} | undefined}
 *   the claims, or undefined for an unknown account.
 */
export function claimsOf(accountId) {
  const person = PEOPLE.get(accountId);
  if (!person) {
    return undefined;
  }
  return {
    sub: accountId,
    name: person.name,
    preferred_username: accountId,
    email: person.email,
    email_verified: true
  };
}

/**
 * The `findAccount` hook of oidc-provider: looks an account up by id.
 *
 * @param {unknown} _ctx - the provider's request context (unused).
 * @param {string} accountId - the account id stored in the session or grant.
 * @returns {Promise<{accountId: string, claims: () => Promise<object>} | undefined>} the account, or undefined.
 */
export async function findAccount(_ctx, accountId) {
  const claims = claimsOf(accountId);
  if (!claims) {
    return undefined;
  }
  return { accountId, claims: async () => claims };
}
