/**
 * The `hub` provider kind: the user's JupyterHub login, whose access token the hub hands to the
 * user's own server (`jupyter_token_broker.hub` in the hub; its route is
 * `GET {JUPYTERHUB_API_URL}/token-broker/v1/users/{name}/token?min_ttl=N`). The Jupyter server
 * extension writes this entry itself under such a hub:
 *
 * ```json
 * {"id": "hub", "title": "…", "kind": "hub", "token_url": "…/users/alice/token", "hub_api_token": "…"}
 * ```
 *
 * plus, when the hub admin gives the hub login an egress (`c.TokenBrokerHub.egress`,
 * `c.TokenBrokerHub.expose_token`), `egress` and `expose_token`, checked as for every provider.
 *
 * `hub_api_token` is the server's JupyterHub API token: a secret that lives only in the broker's
 * 0600 config file and, once read, only inside a {@link Secret}.
 */
import { ConfigError } from '../configError.js';
import { type EgressOptions, egressOptions } from './egressConfig.js';
import { Secret } from '../secret.js';
import { PROVIDER_ID } from '../contract.generated.js';

/** Where a `hub` provider gets its tokens. */
export interface HubSource {
  /** The hub's token route for this user. */
  readonly token_url: string;
  /** The server's JupyterHub API token, sent as `Authorization: token …`. */
  readonly hub_api_token: Secret;
  /** The hub user, from the token URL's `/users/{name}/token`, or null. */
  readonly account: string | null;
}

const HUB_KEYS = new Set([
  'id',
  'title',
  'kind',
  'token_url',
  'hub_api_token',
  'egress',
  'expose_token'
]);
/** JupyterHub API tokens: printable ASCII without spaces. */
const API_TOKEN = /^[\x21-\x7e]{8,4096}$/;
const USER_PATH = /\/users\/([^/]+)\/token\/?$/;

/**
 * The hub's token URL. Plain http is accepted on any host: it is the URL JupyterHub itself gives
 * the server (`JUPYTERHUB_API_URL`, e.g. `http://hub:8081/hub/api` inside a cluster), over which the
 * same server token already travels.
 */
function tokenUrl(value: unknown, key: string): URL {
  if (typeof value !== 'string') throw new ConfigError(key, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(key, 'must be an http(s) URL');
  }
  if (url.username || url.password) throw new ConfigError(key, 'must not carry credentials');
  if (url.search || url.hash) throw new ConfigError(key, 'must have no query or fragment');
  return url;
}

function accountOf(url: URL): string | null {
  const match = USER_PATH.exec(url.pathname);
  if (match === null) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

/** What a `hub` entry says; `providerConfig.ts` makes the full provider of it. */
export interface HubEntry extends EgressOptions {
  readonly id: string;
  readonly title: string;
  readonly hub: HubSource;
}

/**
 * Checks a `providers[i]` entry of kind `hub`.
 *
 * @param raw - the parsed entry (its `kind` is `hub`)
 * @param key - its path, `providers[i]`
 * @returns its id, title, token source and egress options
 * @throws {@link ConfigError} naming the first bad key; never quoting the token
 */
export function validateHubProvider(raw: Record<string, unknown>, key: string): HubEntry {
  for (const k of Object.keys(raw)) {
    if (!HUB_KEYS.has(k) && raw[k] !== undefined) {
      throw new ConfigError(`${key}.${k}`, 'is not an option of kind "hub"');
    }
  }
  const { id, title } = raw;
  if (typeof id !== 'string' || !PROVIDER_ID.test(id)) {
    throw new ConfigError(`${key}.id`, `must match ${PROVIDER_ID.source}`);
  }
  if (title !== undefined && typeof title !== 'string') {
    throw new ConfigError(`${key}.title`, 'must be a string');
  }
  const url = tokenUrl(raw.token_url, `${key}.token_url`);
  if (typeof raw.hub_api_token !== 'string' || !API_TOKEN.test(raw.hub_api_token)) {
    throw new ConfigError(
      `${key}.hub_api_token`,
      "must be the server's JupyterHub API token (8 to 4096 printable characters, no spaces)"
    );
  }
  return {
    id,
    title: title ?? id,
    ...egressOptions(raw, key),
    hub: {
      token_url: url.href,
      hub_api_token: new Secret(raw.hub_api_token),
      account: accountOf(url)
    }
  };
}
