/**
 * Plugin consents: whether a JupyterLab plugin (a client label other than the first-party
 * `jupyterlab` and `kernel`) may get tokens of a provider. The user decides in JupyterLab:
 *
 * - `allow`: for this session only; kept in memory and expires after `consent_session_seconds`;
 * - `allow_always` and `deny`: kept in the store's records (namespace `consents`) when the store is
 *   durable (`stores/records.ts`), else in memory like the grants themselves.
 *
 * Only the owner's own JupyterLab decides (client label `jupyterlab`), never the plugin a decision is
 * about; every decision and every refused attempt is in the audit trail before it is answered.
 */
import { type Clock, epochSeconds } from './clock.js';
import { BrokerError, ConsentDenied, ConsentRequired } from './errors.js';
import type { BrokerEvents } from './events.js';
import type { RecordStore } from './stores/records.js';

/** A decision the user can record. */
export type ConsentDecision = 'allow' | 'allow_always' | 'deny';

/** The decisions, for validation. */
export const CONSENT_DECISIONS: readonly ConsentDecision[] = ['allow', 'allow_always', 'deny'];

/** Client labels that never need a consent: the owner's own JupyterLab and kernels. */
export const FIRST_PARTY_CLIENTS: ReadonlySet<string> = new Set([
  'jupyterlab',
  'kernel',
  'unknown'
]);

/** One recorded decision, as `GET /api/v1/consents` lists it. */
export interface Consent {
  readonly client: string;
  readonly provider: string;
  readonly decision: ConsentDecision;
  /** Epoch seconds when an `allow` ends; null for the persisted decisions. */
  readonly expires_at: number | null;
}

/** The only client that may record or withdraw decisions: the owner's own JupyterLab. */
export const DECIDER = 'jupyterlab';

/** The records namespace of persisted decisions. */
const NAMESPACE = 'consents';

/**
 * Whether a client label is a plugin that needs the user's consent.
 *
 * @param client - the request's client label
 * @returns true for anything but the first-party labels
 * @example
 * ```ts
 * needsConsent('kernel'); // false
 * needsConsent('@org/archive:plugin'); // true
 * ```
 */
export function needsConsent(client: string): boolean {
  return !FIRST_PARTY_CLIENTS.has(client);
}

/** The record key of a (client, provider) pair; client labels and provider ids hold no space. */
function keyOf(client: string, provider: string): string {
  return `${client} ${provider}`;
}

/**
 * The user's plugin consents.
 *
 * @example
 * ```ts
 * const consents = new Consents({ records: new MemoryRecords(), events: NO_EVENTS, clock: Date.now, sessionSeconds: 28800 });
 * await consents.decide('@org/archive:plugin', 'demo', 'allow', 'jupyterlab');
 * await consents.require('@org/archive:plugin', 'demo');
 * ```
 */
export class Consents {
  /** Session `allow`s: key → epoch seconds of expiry. */
  private readonly session = new Map<string, number>();

  constructor(
    private readonly options: {
      readonly records: RecordStore;
      readonly events: BrokerEvents;
      readonly clock: Clock;
      readonly sessionSeconds: number;
    }
  ) {}

  /**
   * Checks that a client may get tokens of a provider.
   *
   * @param client - client label
   * @param provider - provider id
   * @throws {@link ConsentRequired} when the user has not decided (or an `allow` expired)
   * @throws {@link ConsentDenied} when the user said `deny`
   * @throws `StoreUnavailable` when the records cannot be read
   */
  async require(client: string, provider: string): Promise<void> {
    if (!needsConsent(client)) return;
    const decision = await this.decisionOf(client, provider);
    if (decision === 'deny') throw new ConsentDenied(client, provider);
    if (decision === undefined) throw new ConsentRequired(client, provider);
  }

  /**
   * Records a decision, replacing any earlier one for the pair.
   *
   * @param client - the plugin's client label
   * @param provider - provider id
   * @param decision - the user's choice
   * @param decider - the client label of the caller, which must be {@link DECIDER}
   * @returns the recorded consent
   * @throws {@link BrokerError} 403 `forbidden` when the caller is not JupyterLab itself
   * @throws `AuditUnavailable` when the decision cannot be recorded (nothing is changed)
   */
  async decide(
    client: string,
    provider: string,
    decision: ConsentDecision,
    decider: string
  ): Promise<Consent> {
    await this.requireDecider(decider, provider);
    const key = keyOf(client, provider);
    let consent: Consent;
    if (decision === 'allow') {
      await this.deletePersisted(key);
      const expiresAt = this.now() + this.options.sessionSeconds;
      this.session.set(key, expiresAt);
      consent = { client, provider, decision, expires_at: expiresAt };
    } else {
      this.session.delete(key);
      await this.options.records.putRecord(NAMESPACE, key, JSON.stringify({ decision }));
      consent = { client, provider, decision, expires_at: null };
    }
    await this.options.events.emit({
      kind: 'consent.decided',
      provider,
      client: decider,
      plugin: client,
      decision
    });
    return consent;
  }

  /**
   * Withdraws a decision; nothing happens when there is none.
   *
   * @param client - client label
   * @param provider - provider id
   * @param decider - the client label of the caller, which must be {@link DECIDER}
   * @throws {@link BrokerError} 403 `forbidden` when the caller is not JupyterLab itself
   * @throws `AuditUnavailable` when the withdrawal cannot be recorded (nothing is changed)
   */
  async withdraw(client: string, provider: string, decider: string): Promise<void> {
    await this.requireDecider(decider, provider);
    const key = keyOf(client, provider);
    this.session.delete(key);
    await this.deletePersisted(key);
    await this.options.events.emit({
      kind: 'consent.decided',
      provider,
      client: decider,
      plugin: client,
      decision: 'withdrawn'
    });
  }

  /** Only the owner's JupyterLab decides; a refusal is itself recorded. Checks the trail is writable. */
  private async requireDecider(decider: string, provider: string): Promise<void> {
    const { events } = this.options;
    if (decider !== DECIDER) {
      await events.emit({
        kind: 'access.denied',
        provider,
        client: decider,
        code: 'forbidden',
        reason: 'consent decisions come only from JupyterLab'
      });
      throw new BrokerError('forbidden', 'Consents are decided only in JupyterLab itself.');
    }
    await events.assertRecordable();
  }

  /**
   * Every live decision.
   *
   * @returns the consents, session ones first
   */
  async list(): Promise<Consent[]> {
    const now = this.now();
    const out: Consent[] = [];
    for (const [key, expiresAt] of this.session) {
      if (expiresAt <= now) continue;
      const [client, provider] = key.split(' ');
      out.push({ client, provider, decision: 'allow', expires_at: expiresAt });
    }
    const records = await this.options.records.getRecords(NAMESPACE);
    for (const [key, value] of Object.entries(records)) {
      const decision = parseDecision(value);
      if (decision === undefined) continue;
      const [client, provider] = key.split(' ');
      out.push({ client, provider, decision, expires_at: null });
    }
    return out;
  }

  private async decisionOf(client: string, provider: string): Promise<ConsentDecision | undefined> {
    const key = keyOf(client, provider);
    const records = await this.options.records.getRecords(NAMESPACE);
    const persisted = key in records ? parseDecision(records[key]) : undefined;
    if (persisted !== undefined) return persisted;
    const expiresAt = this.session.get(key);
    if (expiresAt === undefined) return undefined;
    if (expiresAt <= this.now()) {
      this.session.delete(key);
      return undefined;
    }
    return 'allow';
  }

  private deletePersisted(key: string): Promise<void> {
    return this.options.records.deleteRecord(NAMESPACE, key);
  }

  private now(): number {
    return epochSeconds(this.options.clock);
  }
}

function parseDecision(value: string): Exclude<ConsentDecision, 'allow'> | undefined {
  try {
    const { decision } = JSON.parse(value) as { decision?: unknown };
    return decision === 'allow_always' || decision === 'deny' ? decision : undefined;
  } catch {
    return undefined;
  }
}
