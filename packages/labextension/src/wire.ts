/**
 * The broker API's JSON shapes, named over the types generated from `openapi.yaml`
 * (`wire.generated.ts`, `make contract`), and their conversion to the public, frozen, camelCase
 * objects of `tokens.ts`. Nothing here ever handles a refresh token.
 */
import type {
  ConsentDecision,
  IAuditEvent,
  IConsent,
  IProviderError,
  IProviderInfo,
  ISession
} from './tokens';
import type { components, operations } from './wire.generated';

type Schemas = components['schemas'];

/** The JSON of an operation's answer with `status`. */
type Answer<
  Name extends keyof operations,
  Status extends keyof operations[Name]['responses']
> = operations[Name]['responses'][Status] extends { content: { 'application/json': infer T } }
  ? T
  : never;

/** The JSON body an operation takes. */
type Body<Name extends keyof operations> =
  NonNullable<operations[Name]['requestBody']> extends { content: { 'application/json': infer T } }
    ? T
    : never;

/**
 * An answer as it arrives: the documented shape, but no field is taken for granted (it may be
 * missing or null), so a conversion never throws on an entry it cannot fully read.
 */
export type Received<T> = { readonly [K in keyof T]?: T[K] | null };

/** A provider entry of `GET providers`. */
export type ProviderWire = Schemas['Provider'];
/** The answer of a sign-out the identity provider did not revoke (a 200; a revoked one is a 204). */
export type SignOutNotice = Schemas['SignOutNotice'];
/** Why a provider cannot be used now: `{code, description}`. */
export type ProviderProblemWire = Schemas['ProviderProblem'];
/** The answer of `POST providers/{id}/token`. */
export type TokenWire = Schemas['Token'];
/** An audit event of `GET events`. */
export type AuditEventWire = Schemas['AuditEvent'];
/** A consent entry of `GET consents`. */
export type ConsentWire = Schemas['Consent'];
/** An error answer: `{error, error_description}`. */
export type ErrorWire = Schemas['Error'];

/** The answer of `GET providers`. */
export type ProvidersAnswer = Answer<'listProviders', 200>;
/** The answer of `GET events`. */
export type EventsAnswer = Answer<'listEvents', 200>;
/** The answer of `GET consents`. */
export type ConsentsAnswer = Answer<'listConsents', 200>;
/** The answer of `POST providers/{id}/login` for a browser sign-in (the only one JupyterLab starts). */
export type BrowserLoginAnswer = Extract<Answer<'startLogin', 200>, { authorization_url: string }>;

/** The body of `POST providers/{id}/token`. */
export type TokenRequest = Body<'getToken'>;
/** The body of `POST providers/{id}/login`. */
export type LoginRequest = Body<'startLogin'>;
/** The body of `PUT consents`. */
export type ConsentRequest = Body<'decideConsent'>;

/** Every decision of the contract: a decision `openapi.yaml` adds is a compile error here until listed. */
const DECISIONS: Readonly<Record<ConsentDecision, true>> = {
  allow: true,
  allow_always: true,
  deny: true
};

function isDecision(value: unknown): value is ConsentDecision {
  return typeof value === 'string' && Object.hasOwn(DECISIONS, value);
}

/**
 * A provider entry as the public {@link IProviderInfo}.
 *
 * @param wire - the broker's entry.
 * @returns a frozen provider info.
 */
export function toProviderInfo(wire: Received<ProviderWire> & { id: string }): IProviderInfo {
  const error = toProviderError(wire);
  return Object.freeze({
    id: wire.id,
    title: wire.title ?? wire.id,
    kind: wire.kind ?? 'oidc',
    grant: wire.grant ?? 'authorization_code',
    narrowing: wire.narrowing ?? null,
    signedIn: wire.signed_in === true,
    account: wire.account ?? null,
    scopes: Object.freeze(toScopes(wire.scopes)),
    expiresAt: typeof wire.expires_at === 'number' ? wire.expires_at : null,
    needsLogin: wire.needs_login === true,
    egress: Object.freeze(toStrings(wire.egress)),
    // A broker older than the egress lists no `expose_token`: it hands out tokens.
    exposeToken: wire.expose_token !== false,
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
export function toSession(wire: TokenWire, providerId: string, account: string | null): ISession {
  return Object.freeze({
    id: `${providerId}:${account ?? ''}`,
    provider: wire.provider,
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
 * @returns a frozen event; `time` in ms since the epoch (`NaN` when the broker's ISO time is unreadable).
 */
export function toAuditEvent(wire: Received<AuditEventWire>): IAuditEvent {
  return Object.freeze({
    time: typeof wire.time === 'string' ? Date.parse(wire.time) : Number.NaN,
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
export function toConsent(wire: Received<ConsentWire>): IConsent | null {
  const decision: unknown = wire.decision;
  if (!wire.client || !wire.provider || !isDecision(decision)) {
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

function toProviderError(wire: Received<ProviderWire>): IProviderError | undefined {
  const problem: Received<ProviderProblemWire> | null | undefined = wire.error;
  if (!problem) {
    return undefined;
  }
  return Object.freeze({
    code: typeof problem.code === 'string' ? problem.code : 'server_error',
    description:
      typeof problem.description === 'string'
        ? problem.description
        : 'The provider reported a problem.'
  });
}

/** The scopes of an entry; none when it has no readable list. */
function toScopes(scopes: ReadonlyArray<string> | null | undefined): string[] {
  return toStrings(scopes);
}

/** The strings of a list; none when it is no list. */
function toStrings(values: ReadonlyArray<string> | null | undefined): string[] {
  return Array.isArray(values) ? values.filter(s => typeof s === 'string') : [];
}
