/**
 * The hub admin API's JSON shapes (`{hub_prefix}api/token-broker/v1/admin/…`), as the hub answers them.
 * None of them carries token material: accounts, scopes and expiries only.
 */

/** The hub login of one user, as the hub holds it in auth_state. */
export interface IHubLogin {
  /** Whether auth_state holds OAuth tokens. */
  readonly held: boolean;
  readonly account: string | null;
  readonly scopes: readonly string[];
  /** Access-token expiry, seconds since the epoch. */
  readonly expires_at: number | null;
  /** ISO time of the user's last activity the hub saw. */
  readonly last_used_at: string | null;
}

/** One broker provider of a running server. */
export interface IServerProvider {
  readonly id: string;
  readonly title: string;
  readonly kind: string;
  readonly signed_in: boolean;
  readonly account: string | null;
  readonly scopes: readonly string[];
  readonly expires_at: number | null;
}

/** A `{code, description}` problem, e.g. a server that did not answer in time. */
export interface IProblem {
  readonly code: string;
  readonly description: string;
}

/** One server of a user (`name` is `""` for the default server). */
export interface IUserServer {
  readonly name: string;
  readonly running: boolean;
  /**
   * Whether the running server's broker runs: `false` when it has not started yet or stopped when
   * idle and left no list (nothing held in its memory; it starts at the user's next token request);
   * `null` when the server is stopped or did not answer.
   */
  readonly broker_running?: boolean | null;
  /** The running server's providers; `null` when stopped or when it did not answer (then `error`). */
  readonly providers: readonly IServerProvider[] | null;
  readonly error: IProblem | null;
}

/** One user of `GET admin/users`. */
export interface IAdminUser {
  readonly name: string;
  readonly hub_login: IHubLogin;
  readonly servers: readonly IUserServer[];
  /** Revocation orders recorded for stopped servers, not applied yet. */
  readonly pending_orders: number;
}

/** `GET admin/users` */
export interface IUserList {
  readonly users: readonly IAdminUser[];
}

/** `POST admin/users/{name}/revoke` body. */
export interface IRevokeRequest {
  /** `null`: everything; `"hub"`: the hub login only; else one broker provider. */
  readonly provider: string | null;
  readonly reason: string;
  readonly force: boolean;
}

/** The outcome of one target of a revocation. */
export type StepOutcome = 'ok' | 'error' | 'skipped' | 'queued';

/** One step of a revocation: `idp`, `auth_state`, `server:NAME` or `order`. */
export interface IRevokeStep {
  readonly target: string;
  readonly outcome: StepOutcome;
  readonly code?: string;
  readonly description?: string;
}

/** `POST admin/users/{name}/revoke` answer. */
export interface IRevokeResult {
  readonly user: string;
  readonly provider: string | null;
  readonly outcome: 'ok' | 'partial' | 'error';
  readonly steps: readonly IRevokeStep[];
}

/** One event of the hub-side audit trail. */
export interface IAuditEvent {
  readonly time: string;
  readonly actor: string;
  readonly user: string | null;
  readonly action: string;
  readonly provider: string | null;
  readonly outcome: string;
  readonly code?: string;
  readonly reason?: string;
}

/** `GET admin/audit` (newest first). */
export interface IAuditTrail {
  readonly events: readonly IAuditEvent[];
}

/** The longest reason the API accepts. */
export const MAX_REASON_LENGTH = 500;

/** The provider id of the hub login in user servers. */
export const HUB_PROVIDER = 'hub';
