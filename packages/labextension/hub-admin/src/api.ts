/**
 * The hub admin API client: the one place that sends requests, with the browser's hub cookie and
 * the hub's XSRF token (`X-XSRFToken`, as JupyterHub's own pages send it).
 */
import { AdminRequestError } from './errors';
import type { IAuditTrail, IRevokeRequest, IRevokeResult, IUserList } from './wire';

/** Which users a list (or the audit trail) is about; empty lists mean every user the admin may see. */
export interface IUserFilter {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

/**
 * Calls `{hub_prefix}api/token-broker/v1/admin/…` as the logged-in admin.
 *
 * @example
 * ```ts
 * const api = new AdminApi('/hub/api/token-broker/v1/', xsrfToken);
 * const { users } = await api.listUsers({ users: ['alice'], groups: [] });
 * ```
 */
export class AdminApi {
  /**
   * @param apiUrl - the API root with a trailing slash, e.g. `/hub/api/token-broker/v1/`.
   * @param xsrfToken - the hub's XSRF token of this page.
   * @param fetchImpl - the fetch to use (a seam for tests).
   */
  constructor(
    private readonly apiUrl: string,
    private readonly xsrfToken: string,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init)
  ) {}

  /**
   * @param filter - users and groups to list (none: all).
   * @returns the users with their hub login, servers and pending orders.
   * @throws {AdminRequestError}
   */
  listUsers(filter: IUserFilter): Promise<IUserList> {
    const query = new URLSearchParams();
    filter.users.forEach(name => query.append('user', name));
    filter.groups.forEach(name => query.append('group', name));
    return this.request<IUserList>('GET', withQuery('admin/users', query));
  }

  /**
   * @param user - the user whose tokens to revoke.
   * @param request - which provider (`null` = everything), the reason, force.
   * @returns the per-step outcome.
   * @throws {AdminRequestError} e.g. 503 `upstream_unavailable` when the IdP failed without force.
   */
  revoke(user: string, request: IRevokeRequest): Promise<IRevokeResult> {
    return this.request<IRevokeResult>(
      'POST',
      `admin/users/${encodeURIComponent(user)}/revoke`,
      request
    );
  }

  /**
   * @param user - only this user's events, when given.
   * @param limit - how many events at most.
   * @returns the events, newest first.
   * @throws {AdminRequestError}
   */
  audit(user: string | null, limit: number): Promise<IAuditTrail> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (user) {
      query.set('user', user);
    }
    return this.request<IAuditTrail>('GET', withQuery('admin/audit', query));
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.apiUrl}${path}`, {
        method,
        cache: 'no-store',
        credentials: 'same-origin',
        headers: {
          Accept: 'application/json',
          'X-XSRFToken': this.xsrfToken,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' })
        },
        body: body === undefined ? undefined : JSON.stringify(body)
      });
    } catch (error) {
      throw new AdminRequestError(0, 'network_error', 'The hub cannot be reached.', null, {
        cause: error
      });
    }
    const payload = await readJson(response);
    if (!response.ok) {
      throw errorFromAnswer(response, payload);
    }
    if (payload === undefined) {
      throw new AdminRequestError(
        response.status,
        'invalid_response',
        'The hub answered something that is not JSON.'
      );
    }
    return payload as T;
  }
}

function withQuery(path: string, query: URLSearchParams): string {
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/** The API's `{error, error_description}`, else JupyterHub's own `{message}`, else the status. */
function errorFromAnswer(response: Response, payload: unknown): AdminRequestError {
  const body =
    typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const code = typeof body.error === 'string' ? body.error : codeForStatus(response.status);
  const description =
    typeof body.error_description === 'string'
      ? body.error_description
      : typeof body.message === 'string'
        ? body.message
        : `The hub answered HTTP ${response.status}.`;
  const retryAfter = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  return new AdminRequestError(
    response.status,
    code,
    description,
    Number.isFinite(retryAfter) ? retryAfter : null,
    { answer: payload }
  );
}

function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 503:
      return 'upstream_unavailable';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request';
  }
}
