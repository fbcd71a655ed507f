/**
 * Request fields: parsing the scopes a caller asked and refusing unknown fields. Whether the scopes
 * are allowed is `leastPrivilege.ts`'s.
 */
import { InvalidRequest } from './errors.js';

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/;

/**
 * Parses the `scopes` field of a request body.
 *
 * @param raw - the field's value
 * @returns the scopes, deduplicated, or undefined when absent or null
 * @throws {@link InvalidRequest} when it is not a list of scope strings
 */
export function parseScopes(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (
    !Array.isArray(raw) ||
    raw.length > 64 ||
    raw.some(s => typeof s !== 'string' || !SCOPE.test(s))
  ) {
    throw new InvalidRequest('scopes must be a list of scope strings.');
  }
  return [...new Set(raw as string[])];
}

/**
 * Refuses body fields the route does not know, so typos do not pass silently.
 *
 * @param body - the parsed body
 * @param known - allowed field names
 * @returns the body as a record
 * @throws {@link InvalidRequest}
 */
export function bodyFields(body: unknown, known: readonly string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequest('The body must be a JSON object.');
  }
  const unknown = Object.keys(body).filter(k => !known.includes(k));
  if (unknown.length > 0) {
    throw new InvalidRequest(`Unknown field ${JSON.stringify(unknown[0]).slice(0, 80)}.`);
  }
  return body as Record<string, unknown>;
}
