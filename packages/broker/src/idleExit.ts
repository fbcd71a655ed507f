/**
 * Whether the broker can exit now without losing anything: the Jupyter server extension's
 * supervisor asks (`GET /api/v1/idle`) after a quiet period and stops an idle broker only when
 * nothing would be lost; the next request starts it again.
 *
 * Each reason to stay is one small check, one code of the closed list {@link IDLE_KEEPS}:
 * - what lives only in the broker's memory ({@link memoryState}): with the memory store every
 *   grant, plugin consent and queued revocation; with any store a plugin's `allow` for this
 *   session. Grants in a durable store (file, keyring) survive a restart, and a hub provider keeps
 *   its login at the hub: the broker only caches the hub's token in memory, and the next start asks
 *   the hub again;
 * - a browser sign-in waiting for its callback ({@link loginPending}): its PKCE verifier and state
 *   are in memory only;
 * - a device login polling ({@link deviceLoginPending});
 * - a revocation waiting for its retry ({@link revocationPending}), whatever the store: a durable
 *   store keeps it, but it would be retried only at the next start, too late for a security action;
 * - an upstream token call under way ({@link refreshInFlight}), e.g. a refresh whose caller already
 *   got its 503 at the deadline: the clean shutdown waits for it, but an exit now would only delay.
 *
 * Reads only: no IdP call, nothing changed.
 */
import type { Consent } from './consents.js';

/** Why the broker cannot exit now: one code of `IdleKeep` in `openapi.yaml`. */
export type IdleKeep =
  | 'memory_store_state'
  | 'login_pending'
  | 'device_login_pending'
  | 'revocation_pending'
  | 'refresh_in_flight';

/** Every {@link IdleKeep}, in the order the answer lists them. */
export const IDLE_KEEPS: readonly IdleKeep[] = [
  'memory_store_state',
  'login_pending',
  'device_login_pending',
  'revocation_pending',
  'refresh_in_flight'
];

/** The answer of `GET /api/v1/idle`. Names providers, never token material. */
export interface IdleState {
  /** True when stopping the broker now loses nothing; `keeps` is then empty. */
  readonly canExit: boolean;
  /** Why it cannot exit, in the order of {@link IDLE_KEEPS}; empty exactly when `canExit`. */
  readonly keeps: readonly IdleKeep[];
  /** One sentence for the server log. */
  readonly description: string;
}

/** One reason to stay: its code, and what it says in the description. */
export interface Kept {
  readonly code: IdleKeep;
  readonly says: string;
}

/** What the checks read: read-only queries of the broker's services. */
export interface IdleServices {
  /** The grant store: `durable`, and the grants of `providers`. */
  readonly store: {
    readonly durable: boolean;
    get(provider: string): Promise<unknown>;
  };
  /** The configured providers (a store holds grants of these only). */
  readonly providers: { all(): ReadonlyArray<{ readonly id: string }> };
  readonly consents: { list(): Promise<Consent[]> };
  readonly revocations: { pending(): Promise<number> };
  readonly logins: { waiting(): string[] };
  readonly devices: { active(): string[] };
  readonly tokens: { inFlight(): boolean };
}

/**
 * Whether the broker can exit now, and what keeps it when it cannot.
 *
 * @param services - the broker's services (the route passes the context)
 * @returns the answer
 * @throws `StoreUnavailable` when the store cannot be read (then nobody can tell: the broker stays)
 * @example
 * ```ts
 * const state = await idleState(context);
 * if (state.canExit) process.kill(process.pid, 'SIGTERM');
 * ```
 */
export async function idleState(services: IdleServices): Promise<IdleState> {
  const kept = [
    await memoryState(services),
    loginPending(services.logins.waiting()),
    deviceLoginPending(services.devices.active()),
    revocationPending(await services.revocations.pending()),
    refreshInFlight(services.tokens.inFlight())
  ].filter((k): k is Kept => k !== undefined);
  return idleAnswer(kept);
}

/**
 * The answer for the reasons found.
 *
 * @param kept - the reasons to stay, in the order of {@link IDLE_KEEPS}
 * @returns `canExit` exactly when there is none, and the one-sentence description
 * @example
 * ```ts
 * idleAnswer([]); // { canExit: true, keeps: [], description: 'nothing would be lost' }
 * ```
 */
export function idleAnswer(kept: readonly Kept[]): IdleState {
  if (kept.length === 0) return { canExit: true, keeps: [], description: 'nothing would be lost' };
  return {
    canExit: false,
    keeps: kept.map(k => k.code),
    description: `keeps running: ${kept.map(k => k.says).join('; ')}`
  };
}

/**
 * What only the broker's memory holds: with a store that is not durable (memory) its grants,
 * plugin consents and queued revocations; with any store a plugin's `allow` for this session,
 * which is never persisted.
 *
 * @param services - the store, the providers, the consents and the revocation queue
 * @returns `memory_store_state`, or undefined when a restart would lose none of it
 */
export async function memoryState(
  services: Pick<IdleServices, 'store' | 'providers' | 'consents' | 'revocations'>
): Promise<Kept | undefined> {
  const { store, providers, consents, revocations } = services;
  const live = await consents.list();
  if (store.durable) {
    const session = live.filter(c => c.decision === 'allow').length;
    if (session === 0) return undefined;
    return {
      code: 'memory_store_state',
      says: `the broker's memory holds ${counted(session, "a plugin's consent", 'plugin consents')} for this session (a restart would lose ${session === 1 ? 'it' : 'them'})`
    };
  }
  const signedIn: string[] = [];
  for (const { id } of providers.all()) {
    if ((await store.get(id)) !== undefined) signedIn.push(id);
  }
  const queued = await revocations.pending();
  const held = [
    ...(signedIn.length === 0
      ? []
      : [`${signedIn.length === 1 ? 'a sign-in' : 'sign-ins'} of ${quoted(signedIn)}`]),
    ...(live.length === 0 ? [] : [counted(live.length, 'a plugin consent', 'plugin consents')]),
    ...(queued === 0 ? [] : [counted(queued, 'a queued revocation', 'queued revocations')])
  ];
  if (held.length === 0) return undefined;
  const many = held.length > 1 || signedIn.length > 1 || live.length > 1 || queued > 1;
  return {
    code: 'memory_store_state',
    says: `the memory store holds ${listed(held)} (a restart would lose ${many ? 'them' : 'it'})`
  };
}

/**
 * Browser sign-ins waiting for their callback: their state and PKCE verifier are in memory only.
 *
 * @param providers - the provider of each waiting login (`LoginStates.waiting()`)
 * @returns `login_pending`, or undefined when none waits
 * @example
 * ```ts
 * loginPending(['demo'])?.says; // "a sign-in to 'demo' waits for its callback"
 * ```
 */
export function loginPending(providers: readonly string[]): Kept | undefined {
  if (providers.length === 0) return undefined;
  const distinct = [...new Set(providers)];
  return {
    code: 'login_pending',
    says:
      providers.length === 1
        ? `a sign-in to ${quoted(distinct)} waits for its callback`
        : `${providers.length} sign-ins to ${quoted(distinct)} wait for their callback`
  };
}

/**
 * Device logins still polling the IdP.
 *
 * @param providers - their providers (`DeviceLogins.active()`)
 * @returns `device_login_pending`, or undefined when none polls
 */
export function deviceLoginPending(providers: readonly string[]): Kept | undefined {
  if (providers.length === 0) return undefined;
  return {
    code: 'device_login_pending',
    says: `${providers.length === 1 ? 'a device login' : 'device logins'} to ${quoted(providers)} ${providers.length === 1 ? 'is' : 'are'} polling`
  };
}

/**
 * Revocations waiting for their retry at the IdP, whatever the store.
 *
 * @param queued - how many (`Revocations.pending()`)
 * @returns `revocation_pending`, or undefined when none waits
 */
export function revocationPending(queued: number): Kept | undefined {
  if (queued === 0) return undefined;
  return {
    code: 'revocation_pending',
    says: `${counted(queued, 'a revocation waits', 'revocations wait')} for a retry at the identity provider`
  };
}

/**
 * An upstream token call under way (a refresh, a hub or client credentials call).
 *
 * @param inFlight - whether one is (`TokenService.inFlight()`)
 * @returns `refresh_in_flight`, or undefined
 */
export function refreshInFlight(inFlight: boolean): Kept | undefined {
  if (!inFlight) return undefined;
  return { code: 'refresh_in_flight', says: 'a token call to an identity provider is under way' };
}

/** `a thing` for 1, `N things` otherwise. */
function counted(n: number, one: string, many: string): string {
  return n === 1 ? one : `${n} ${many}`;
}

/** `'a'`, `'a', 'b'`. */
function quoted(ids: readonly string[]): string {
  return ids.map(id => `'${id}'`).join(', ');
}

/** `x`, `x and y`, `x, y and z`. */
function listed(items: readonly string[]): string {
  return items.length === 1
    ? items[0]
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
