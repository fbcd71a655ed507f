/**
 * What the sign-out tests check at the IdP itself: whether a refresh token still works there, the
 * refresh tokens the IdP issued to the broker, and an IdP whose revocation ends only the token asked
 * (as Django OAuth Toolkit and Cognito do), not its whole grant (as oidc-provider does, which would
 * hide a sign-out that revoked the wrong token).
 */
import type Provider from 'oidc-provider';

import type { TestBroker } from '../fixtures/broker.js';
import { CLIENT_ID, type IdP } from '../fixtures/idp.js';

/** Every refresh token the IdP sent the broker, oldest first. */
export function refreshTokensSeen(broker: TestBroker): string[] {
  const seen: string[] = [];
  for (const body of broker.upstreamBodies) {
    const m = /"refresh_token"\s*:\s*"([^"]+)"/.exec(body);
    if (m && !seen.includes(m[1])) seen.push(m[1]);
  }
  return seen;
}

/** The newest refresh token the IdP sent the broker. */
export function lastRefreshToken(broker: TestBroker): string {
  const seen = refreshTokensSeen(broker);
  if (seen.length === 0) throw new Error('no refresh token seen');
  return seen[seen.length - 1];
}

/**
 * Uses a refresh token directly at the IdP.
 *
 * @returns the answer's status and `error`
 */
export async function redeem(
  idp: Pick<IdP, 'issuer'>,
  refreshToken: string,
  clientId = CLIENT_ID
): Promise<{ status: number; error?: string }> {
  const response = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId
    })
  });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, error: body.error };
}

interface KoaContext {
  method: string;
  path: string;
  req: AsyncIterable<Buffer>;
  status: number;
  body: unknown;
}

/**
 * Makes the IdP's RFC 7009 endpoint end only the refresh token it is given (oidc-provider ends
 * every token of the grant). Use as `startIdP({ configure: revokeOnlyTheTokenAsked })`.
 *
 * @param provider - the oidc-provider instance
 */
export function revokeOnlyTheTokenAsked(provider: Provider): void {
  const app = provider as unknown as {
    use(mw: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  };
  app.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || !ctx.path.endsWith('/token/revocation')) return next();
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token');
    const found = token === null ? undefined : await provider.RefreshToken.find(token);
    await found?.destroy();
    ctx.status = 200;
    ctx.body = '';
  });
}

/** A gate the test opens: `wait` resolves once `open` was called. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>(resolve => {
    open = resolve;
  });
  return { wait, open };
}
