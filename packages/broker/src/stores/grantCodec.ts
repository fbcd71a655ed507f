/**
 * Grants as plain JSON values, for the stores that keep them outside the process: a frozen deep copy,
 * and a strict reader that refuses anything not shaped like a grant (without ever echoing the
 * value, which holds a refresh token).
 */
import type { Grant, SharedToken } from './tokenStore.js';

/** A stored value is not a grant; the message never contains the value. */
export class MalformedGrant extends Error {
  /** @param where - which field, e.g. `grants.demo.scopes` */
  constructor(where: string) {
    super(`stored grant is malformed at ${where}`);
    this.name = 'MalformedGrant';
  }
}

/**
 * A frozen deep copy of a grant, without unknown fields.
 *
 * @param grant - the grant
 * @returns a copy no caller can change
 */
export function copyGrant(grant: Grant): Grant {
  const last = grant.lastToken;
  return Object.freeze({
    provider: grant.provider,
    refreshToken: grant.refreshToken,
    scopes: Object.freeze([...grant.scopes]),
    account: grant.account,
    subject: grant.subject,
    ...(grant.session == null ? {} : { session: grant.session }),
    ...(grant.authTime == null ? {} : { authTime: grant.authTime }),
    createdAt: grant.createdAt,
    updatedAt: grant.updatedAt,
    ...(last == null
      ? {}
      : { lastToken: Object.freeze({ ...last, scopes: Object.freeze([...last.scopes]) }) })
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown, where: string, nullable = false): string | null {
  if (typeof v === 'string' || (nullable && v === null)) return v;
  throw new MalformedGrant(where);
}

function num(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new MalformedGrant(where);
}

function strings(v: unknown, where: string): string[] {
  if (Array.isArray(v) && v.every(s => typeof s === 'string')) return v as string[];
  throw new MalformedGrant(where);
}

function readShared(v: unknown, where: string): SharedToken | undefined {
  if (v == null) return undefined;
  if (!isObject(v)) throw new MalformedGrant(where);
  return {
    scopeKey: str(v.scopeKey, `${where}.scopeKey`) as string,
    accessToken: str(v.accessToken, `${where}.accessToken`) as string,
    tokenType: str(v.tokenType, `${where}.tokenType`) as string,
    expiresAt: num(v.expiresAt, `${where}.expiresAt`),
    scopes: strings(v.scopes, `${where}.scopes`),
    ...(v.lifetime === undefined ? {} : { lifetime: num(v.lifetime, `${where}.lifetime`) })
  };
}

/**
 * Reads a grant from a parsed JSON value.
 *
 * @param value - what the store held
 * @param where - its location, for the error
 * @returns the grant (frozen)
 * @throws {@link MalformedGrant} when it is not shaped like a grant
 */
export function readGrant(value: unknown, where: string): Grant {
  if (!isObject(value)) throw new MalformedGrant(where);
  const lastToken = readShared(value.lastToken, `${where}.lastToken`);
  return copyGrant({
    provider: str(value.provider, `${where}.provider`) as string,
    refreshToken: str(value.refreshToken, `${where}.refreshToken`, true),
    scopes: strings(value.scopes, `${where}.scopes`),
    account: str(value.account, `${where}.account`, true),
    subject: str(value.subject, `${where}.subject`, true),
    session: value.session == null ? null : str(value.session, `${where}.session`),
    authTime: value.authTime == null ? null : num(value.authTime, `${where}.authTime`),
    createdAt: num(value.createdAt, `${where}.createdAt`),
    updatedAt: num(value.updatedAt, `${where}.updatedAt`),
    ...(lastToken === undefined ? {} : { lastToken })
  });
}

/**
 * Parses JSON text that holds secrets: a syntax error never carries a piece of the text.
 *
 * @param text - the JSON
 * @param where - what it is, for the error
 * @returns the parsed value
 * @throws {@link MalformedGrant}
 */
export function parseSecretJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedGrant(where);
  }
}
