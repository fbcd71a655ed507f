/**
 * The broker API's JSON shapes (snake_case, as `openapi.yaml` has them) and their conversion to the
 * public, frozen, camelCase objects of `tokens.ts`. Nothing here ever handles a refresh token.
 */
import type {
  ConsentDecision,
  IAuditEvent,
  IConsent,
  IProviderError,
  IProviderInfo,
  ISession
} from './tokens';

/** The broker's provider entry on the wire. */
export interface IProviderWire {
  id: string;
  title?: string;
  kind?: string;
  signed_in?: boolean;
  account?: string | null;
  scopes?: string[] | string;
  expires_at?: number | null;
  needs_login?: boolean;
  error?: string | { error?: string; error_description?: string } | null;
  error_description?: string;
}

/** The broker's token answer on the wire. */
export interface ITokenWire {
  access_token: string;
  token_type: string;
  expires_at: number;
  expires_in: number;
  scopes?: string[] | string;
  provider?: string;
}

/** The broker's audit event on the wire. */
export interface IEventWire {
  time?: number | string;
  type?: string;
  provider?: string | null;
  client?: string | null;
  scopes?: string[] | string;
  outcome?: string;
  code?: string;
  reason?: string;
}

/** The broker's consent entry on the wire. */
export interface IConsentWire {
  client?: string;
  provider?: string;
  decision?: string;
  expires_at?: number | null;
}

const DECISIONS: ReadonlyArray<ConsentDecision> = ['allow', 'allow_always', 'deny'];

/**
 * A provider entry as the public {@link IProviderInfo}.
 *
 * @param wire - the broker's entry.
 * @returns a frozen provider info.
 */
export function toProviderInfo(wire: IProviderWire): IProviderInfo {
  const error = toProviderError(wire);
  return Object.freeze({
    id: wire.id,
    title: wire.title ?? wire.id,
    kind: wire.kind ?? 'oidc',
    signedIn: wire.signed_in === true,
    account: wire.account ?? null,
    scopes: Object.freeze(toScopes(wire.scopes)),
    expiresAt: typeof wire.expires_at === 'number' ? wire.expires_at : null,
    needsLogin: wire.needs_login === true,
    ...(error ? { error } : {})
  });
}

/**
 * A token answer as the public {@link ISession}; the token lives only in the returned object.
 *
 * @param wire - the broker's answer.
 * @param providerId - the provider asked.
 * @param account - the signed-in account, if known.
 * @returns a frozen session.
 */
export function toSession(wire: ITokenWire, providerId: string, account: string | null): ISession {
  return Object.freeze({
    id: `${providerId}:${account ?? ''}`,
    provider: wire.provider ?? providerId,
    accessToken: wire.access_token,
    expiresAt: wire.expires_at,
    account,
    scopes: Object.freeze(toScopes(wire.scopes))
  });
}

/**
 * An audit event as the public {@link IAuditEvent}.
 *
 * @param wire - the broker's event.
 * @returns a frozen event; `time` in ms since the epoch (the broker sends seconds, ms or ISO text).
 */
export function toAuditEvent(wire: IEventWire): IAuditEvent {
  return Object.freeze({
    time: toMillis(wire.time),
    type: wire.type ?? 'unknown',
    provider: wire.provider ?? null,
    client: wire.client ?? null,
    scopes: Object.freeze(toScopes(wire.scopes)),
    outcome: wire.outcome ?? 'ok',
    ...(wire.code ? { code: wire.code } : {}),
    ...(wire.reason ? { reason: wire.reason } : {})
  });
}

/**
 * A consent entry as the public {@link IConsent}, or `null` when it is not one.
 *
 * @param wire - the broker's entry.
 * @returns a frozen consent, or `null` for an entry without client, provider or a known decision.
 */
export function toConsent(wire: IConsentWire): IConsent | null {
  const decision = DECISIONS.find(d => d === wire.decision);
  if (!wire.client || !wire.provider || !decision) {
    return null;
  }
  return Object.freeze({
    client: wire.client,
    provider: wire.provider,
    decision,
    expiresAt: typeof wire.expires_at === 'number' ? wire.expires_at : null
  });
}

/**
 * Whether the sign-in state differs (expiry alone does not count: it moves with every token).
 *
 * @param before - the earlier state, if any.
 * @param after - the newer state, if any.
 * @returns `true` when a listener should hear about it.
 */
export function hasChanged(
  before: IProviderInfo | undefined,
  after: IProviderInfo | undefined
): boolean {
  if (!before || !after) {
    return before !== after;
  }
  return (
    before.signedIn !== after.signedIn ||
    before.account !== after.account ||
    before.needsLogin !== after.needsLogin ||
    before.error?.code !== after.error?.code
  );
}

function toProviderError(wire: IProviderWire): IProviderError | undefined {
  if (!wire.error) {
    return undefined;
  }
  if (typeof wire.error === 'string') {
    // The broker reports either a stable code (with `error_description`) or, for an IdP it cannot
    // reach, the reason as text.
    return /^[a-z_]+$/.test(wire.error)
      ? Object.freeze({
          code: wire.error,
          description: wire.error_description ?? 'The provider reported a problem.'
        })
      : Object.freeze({ code: 'upstream_unavailable', description: wire.error });
  }
  return Object.freeze({
    code: wire.error.error ?? 'server_error',
    description: wire.error.error_description ?? 'The provider reported a problem.'
  });
}

/** Scopes arrive as an array or as an OAuth space-separated string. */
function toScopes(scopes: string[] | string | undefined): string[] {
  if (Array.isArray(scopes)) {
    return scopes.filter(s => typeof s === 'string');
  }
  return typeof scopes === 'string' ? scopes.split(' ').filter(s => s !== '') : [];
}

/** Epoch seconds (below 1e12), epoch ms, or ISO text, as ms; `NaN` when unreadable. */
function toMillis(time: number | string | undefined): number {
  if (typeof time === 'number') {
    return time < 1e12 ? time * 1000 : time;
  }
  return typeof time === 'string' ? Date.parse(time) : Number.NaN;
}
