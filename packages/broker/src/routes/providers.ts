/**
 * The provider resource: the list and sign-out (access tokens: `token.ts`).
 */
import { Router } from 'express';

import { clientOf } from '../caller.js';
import type { BrokerContext } from '../context.js';

/** How long the list waits for a provider's first discovery before answering without it. */
const WARM_UP_WAIT_MS = 1500;

/**
 * `GET /api/v1/providers` and `DELETE /api/v1/providers/{id}/grant` (the token route is
 * `routes/token.ts`, served in front of express).
 *
 * @param context - the broker's services
 * @returns the router
 */
export function providerRoutes(context: BrokerContext): Router {
  const { providers, revocations } = context;
  const router = Router();

  router.get('/api/v1/providers', async (_req, res) => {
    const list = await Promise.all(
      providers.all().map(async provider => {
        // A refused connection or a missing file shows in this very answer; a silent IdP in a later one.
        await provider.warmUp(WARM_UP_WAIT_MS);
        const [status, problem] = await Promise.all([
          context.tokens.status(provider),
          provider.problem()
        ]);
        return {
          id: provider.id,
          title: provider.config.title,
          kind: provider.config.kind,
          grant: provider.config.grant,
          narrowing: provider.config.narrowing,
          signed_in: status.signedIn,
          account: status.account,
          scopes: status.scopes ?? provider.config.scopes,
          expires_at: status.expiresAt,
          needs_login: status.needsLogin,
          egress: provider.config.egress.map(prefix => prefix.href),
          expose_token: provider.config.expose_token,
          ...(problem === undefined
            ? {}
            : { error: { code: problem.code, description: problem.description } })
        };
      })
    );
    res.set('Cache-Control', 'no-store').json({ providers: list });
  });

  router.delete('/api/v1/providers/:id/grant', async (req, res) => {
    const provider = providers.lookup(req.params.id);
    const client = clientOf(req);
    const result = await revocations.signOut(provider, client);
    // 204 when the IdP revoked the sign-in (or there was none); else say what the person must know.
    if (result.revoked) res.status(204).end();
    else {
      res
        .status(200)
        .set('Cache-Control', 'no-store')
        .json({ upstream: result.upstream, description: result.description });
    }
  });

  return router;
}
