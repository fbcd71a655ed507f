/**
 * The demo IdP's own interaction routes: a sign-in form and automatic consent for the demo client.
 *
 * They run on the same node:http server as the provider, in front of it: `handleInteraction` answers
 * `/interaction/...` and leaves every other request to oidc-provider.
 */

import { authenticate } from './accounts.mjs';
import { mountPathOf } from './jupyterProxy.mjs';
import { renderLoginPage } from './loginPage.mjs';

/** Where oidc-provider sends the browser when it needs an interaction (`interactions.url`). */
export const INTERACTION_PREFIX = '/interaction/';

/** A sign-in form is small; anything bigger is not ours. */
const MAX_FORM_BYTES = 4096;

/**
 * Reads an `application/x-www-form-urlencoded` body.
 *
 * @param {import('node:http').IncomingMessage} req - the request.
 * @returns {Promise<URLSearchParams>} the form fields.
 * @throws {Error} when the body is larger than {@link MAX_FORM_BYTES}.
 */
async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      throw new Error('form too large');
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Sends an HTML page that must not be cached or framed.
 *
 * @param {import('node:http').ServerResponse} res - the response.
 * @param {number} status - the HTTP status.
 * @param {string} html - the document.
 */
function sendHtml(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY'
  });
  res.end(html);
}

/**
 * Grants the demo client exactly what it asked for and is still missing, as a first-party app's consent would.
 *
 * @param {import('oidc-provider').default} provider - the provider.
 * @param {import('node:http').IncomingMessage} req - the request.
 * @param {import('node:http').ServerResponse} res - the response.
 * @param {object} details - the result of `provider.interactionDetails`.
 */
async function autoConsent(provider, req, res, details) {
  const {
    params,
    session,
    prompt: { details: missing }
  } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });

  if (missing.missingOIDCScope) {
    grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  }
  if (missing.missingOIDCClaims) {
    grant.addOIDCClaims(missing.missingOIDCClaims);
  }
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  // A new grant must be named in the result; an existing one was already updated in place.
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

/**
 * Answers the demo IdP's interaction routes, or returns false for any other request.
 *
 * - `GET /interaction/{uid}`: the sign-in form (prompt `login`) or automatic consent (prompt `consent`).
 * - `POST /interaction/{uid}/login`: checks the credentials and finishes the login prompt.
 *
 * @param {import('oidc-provider').default} provider - the provider.
 * @param {import('node:http').IncomingMessage} req - the request.
 * @param {import('node:http').ServerResponse} res - the response.
 * @returns {Promise<boolean>} true when the request was an interaction request and has been answered.
 */
export async function handleInteraction(provider, req, res) {
  const { pathname } = new URL(req.url ?? '/', 'http://idp.invalid');
  if (!pathname.startsWith(INTERACTION_PREFIX)) {
    return false;
  }
  const [uid, action] = pathname.slice(INTERACTION_PREFIX.length).split('/');

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    sendHtml(res, 400, '<!doctype html><title>Demo IdP</title><p>This sign-in has expired. Start again.</p>');
    return true;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, '<!doctype html><title>Demo IdP</title><p>Unknown sign-in.</p>');
    return true;
  }

  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? String(details.params.client_id);
  const formAction = `${mountPathOf(req)}${INTERACTION_PREFIX}${uid}/login`;

  if (req.method === 'GET' && action === undefined) {
    if (details.prompt.name === 'consent') {
      await autoConsent(provider, req, res, details);
    } else {
      sendHtml(res, 200, renderLoginPage({ action: formAction, clientName }));
    }
    return true;
  }

  if (req.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
    let form;
    try {
      form = await readForm(req);
    } catch {
      sendHtml(res, 413, '<!doctype html><title>Demo IdP</title><p>Form too large.</p>');
      return true;
    }
    const username = (form.get('username') ?? '').trim();
    const accountId = authenticate(username, form.get('password') ?? '');
    if (!accountId) {
      sendHtml(
        res,
        401,
        renderLoginPage({ action: formAction, clientName, username, error: 'Wrong username or password.' })
      );
      return true;
    }
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return true;
  }

  sendHtml(res, 405, '<!doctype html><title>Demo IdP</title><p>Not allowed here.</p>');
  return true;
}
