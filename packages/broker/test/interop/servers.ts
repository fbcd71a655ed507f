/**
 * The authorization servers the interop tests run every scenario against, behind one small interface:
 * oidc-provider (in process, test/fixtures/idp.ts) and Django OAuth Toolkit (a Python process,
 * test/fixtures/dot.ts). Neither was written here; each test file starts each server once.
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';

import { startDot, DOT_SERVICE_CLIENT, DOT_SERVICE_SECRET } from '../fixtures/dot.js';
import { CLIENT_ID, type IdP } from '../fixtures/idp.js';
import {
  secretFile,
  SERVICE_CLIENT,
  SERVICE_SECRET,
  startGrantsIdP
} from '../fixtures/grantsIdp.js';

/** What an IdP answered to a request the test sent it directly. */
export interface IdPAnswer {
  readonly status: number;
  /** The OAuth error code, when it refused. */
  readonly error?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

/** One running authorization server, as the interop scenarios see it. */
export interface InteropServer {
  /** The implementation, as the tests name it. */
  readonly name: string;
  /** What the broker fixture needs to sign in (`startBroker(server.idp, …)`). */
  readonly idp: Pick<IdP, 'issuer' | 'authorize'>;
  /** The provider fields of a user sign-in (authorization code + PKCE, public client). */
  readonly userProvider: Readonly<Record<string, unknown>>;
  /**
   * The `narrowing` that cannot shrink this server's grant: `refresh` where a refresh token keeps its
   * scope (oidc-provider), `refuse` where the rotated one is bound to the narrowed scope and there is
   * no RFC 8693 token exchange (Django OAuth Toolkit).
   */
  readonly safeNarrowing: 'refresh' | 'exchange' | 'refuse';
  /** The provider fields of a service account (client credentials, secret in a 0600 file). */
  serviceProvider(): Promise<Record<string, unknown>>;
  /** Sets the lifetime of the access tokens the server issues from now on. */
  setAccessTokenTtl(seconds: number): Promise<void>;
  /** Holds back each refresh answer `ms` after the server processed it (rotated the token): a slow IdP. */
  setRefreshLateMs(ms: number): Promise<void>;
  /** refresh_token grants the server answered (`ok`) and refused since the last reset. */
  refreshCounts(): Promise<{ ok: number; refused: number }>;
  resetCounts(): Promise<void>;
  /** Ends every grant of alice at the server, as an admin would. */
  revokeAlice(): Promise<void>;
  /** Sends a refresh token straight to the server as the broker's client, bypassing the broker. */
  redeemRefreshToken(refreshToken: string): Promise<IdPAnswer>;
  /** Presents an access token at the server's userinfo endpoint. */
  userinfo(accessToken: string): Promise<IdPAnswer>;
  /** The scope the server recorded for a service account's access token (undefined: unknown token). */
  serviceTokenScope(accessToken: string): Promise<string | undefined>;
  close(): Promise<void>;
}

async function idpAnswer(response: Response): Promise<IdPAnswer> {
  const text = await response.text();
  let json: { error?: string } | undefined;
  try {
    json = JSON.parse(text) as { error?: string };
  } catch {
    json = undefined;
  }
  return { status: response.status, error: json?.error, json: json ?? text };
}

/** Secret files made for service providers, removed with their server. */
function secretFiles(): {
  make(secret: string): Promise<string>;
  removeAll(): Promise<void>;
} {
  const made: string[] = [];
  return {
    make: async secret => {
      const file = await secretFile(secret);
      made.push(file);
      return file;
    },
    removeAll: async () => {
      await Promise.all(made.map(file => rm(dirname(file), { recursive: true, force: true })));
    }
  };
}

async function startOidcProvider(): Promise<InteropServer> {
  const idp = await startGrantsIdP();
  const secrets = secretFiles();
  return {
    name: 'oidc-provider',
    idp,
    userProvider: {},
    safeNarrowing: 'refresh',
    serviceProvider: async () => ({
      grant: 'client_credentials',
      client_id: SERVICE_CLIENT,
      client_secret_file: await secrets.make(SERVICE_SECRET),
      scopes: ['demo:read', 'demo:write']
    }),
    setAccessTokenTtl: async seconds => {
      idp.accessTokenTtl = seconds;
    },
    setRefreshLateMs: async ms => {
      idp.lateMs = ms;
    },
    refreshCounts: async () => ({ ok: idp.refreshes, refused: idp.refreshFailures }),
    resetCounts: async () => {
      idp.refreshes = 0;
      idp.refreshFailures = 0;
    },
    revokeAlice: () => idp.revokeAll(),
    redeemRefreshToken: async refreshToken =>
      idpAnswer(
        await fetch(`${idp.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: refreshToken,
            client_id: CLIENT_ID
          }).toString()
        })
      ),
    userinfo: async accessToken =>
      idpAnswer(
        await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })
      ),
    serviceTokenScope: async accessToken =>
      ((await idp.provider.ClientCredentials.find(accessToken)) as { scope?: string } | undefined)
        ?.scope,
    close: async () => {
      await secrets.removeAll();
      await idp.close();
    }
  };
}

async function startDjangoOAuthToolkit(): Promise<InteropServer> {
  const dot = await startDot();
  const secrets = secretFiles();
  return {
    name: 'django-oauth-toolkit',
    idp: dot,
    userProvider: dot.brokerProvider,
    safeNarrowing: 'refuse',
    serviceProvider: async () => ({
      grant: 'client_credentials',
      issuer: dot.issuer,
      client_id: DOT_SERVICE_CLIENT,
      client_secret_file: await secrets.make(DOT_SERVICE_SECRET),
      scopes: ['demo:read', 'demo:write']
    }),
    setAccessTokenTtl: seconds => dot.setAccessTokenTtl(seconds),
    setRefreshLateMs: ms => dot.setRefreshLateMs(ms),
    refreshCounts: async () => {
      const state = await dot.state();
      return { ok: state.refreshes, refused: state.refreshFailures };
    },
    resetCounts: () => dot.resetCounts(),
    revokeAlice: async () => {
      await dot.revokeUser('alice');
    },
    redeemRefreshToken: async refreshToken => {
      const answer = await dot.tokenRequest({
        grant_type: 'refresh_token',
        refresh_token: refreshToken
      });
      return { status: answer.status, error: answer.json?.error, json: answer.json };
    },
    userinfo: async accessToken =>
      idpAnswer(
        await fetch(`${dot.issuer}/userinfo/`, {
          headers: { authorization: `Bearer ${accessToken}` }
        })
      ),
    serviceTokenScope: async accessToken => {
      const answer = await dot.introspect(accessToken);
      return answer.json?.active === true ? (answer.json.scope as string) : undefined;
    },
    close: async () => {
      await secrets.removeAll();
      await dot.close();
    }
  };
}

/** The table the interop suites run over: `describe.each(SERVERS)('%s', (_name, start) => …)`. */
export const SERVERS: [string, () => Promise<InteropServer>][] = [
  ['oidc-provider', startOidcProvider],
  ['django-oauth-toolkit', startDjangoOAuthToolkit]
];
