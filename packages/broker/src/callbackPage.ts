/**
 * The HTML page the login popup lands on: it tells its opener (same origin only) how the sign-in
 * went and closes itself. It carries no token material, only the provider id and an error code.
 */
import { createHash } from 'node:crypto';

/** The message posted to `window.opener`. */
export interface LoginMessage {
  readonly source: 'jupyter-token-broker';
  readonly type: 'login';
  readonly provider: string | null;
  readonly ok: boolean;
  readonly error?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

/**
 * Renders the page and the Content-Security-Policy that allows exactly its one inline script.
 *
 * @param message - what to tell the opener
 * @param text - the line shown to the user
 * @returns the HTML and the CSP header value
 */
export function renderCallbackPage(
  message: LoginMessage,
  text: string
): { html: string; csp: string } {
  // JSON inside a script: escape `<` so no `</script>` can end it early.
  const json = JSON.stringify(message).replace(/</g, '\\u003c');
  const script =
    `(function(){var m=${json};` +
    'try{if(window.opener){window.opener.postMessage(m,window.location.origin);}}' +
    'finally{setTimeout(function(){window.close();},50);}})();';
  const hash = createHash('sha256').update(script, 'utf8').digest('base64');
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>Token Broker sign-in</title></head>' +
    `<body><p>${escapeHtml(text)}</p><script>${script}</script></body></html>`;
  return { html, csp: `default-src 'none'; script-src 'sha256-${hash}'` };
}
