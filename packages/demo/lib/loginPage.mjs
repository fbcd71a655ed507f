/**
 * The HTML of the demo IdP's sign-in form. Labelled inputs and a named button, so people, screen readers and
 * Playwright's role/label locators find the same things.
 */

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @param {string} text - untrusted text.
 * @returns {string} the escaped text.
 */
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * Renders the sign-in page of one interaction.
 *
 * @param {object} options - what to show.
 * @param {string} options.action - the form's POST target (the interaction's login URL).
 * @param {string} options.clientName - the application asking for the sign-in.
 * @param {string} [options.username] - the username to prefill after a failed attempt.
 * @param {string} [options.error] - an error message to show above the form.
 * @returns {string} a complete HTML document.
 */
export function renderLoginPage({ action, clientName, username = '', error }) {
  const alert = error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - Demo IdP</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 22rem; margin: 3rem auto; padding: 0 1rem; }
  label { display: block; margin-top: 1rem; }
  input { display: block; width: 100%; padding: .4rem; box-sizing: border-box; }
  button { margin-top: 1.5rem; padding: .5rem 1.5rem; }
  .error { color: #b00020; }
  .hint { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<main>
<h1>Demo IdP</h1>
<p>Sign in to continue to <strong>${escapeHtml(clientName)}</strong>.</p>
${alert}
<form method="post" action="${escapeHtml(action)}" autocomplete="off">
  <label for="username">Username</label>
  <input id="username" name="username" type="text" value="${escapeHtml(username)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button type="submit">Sign in</button>
</form>
<p class="hint">Demo users: <code>alice</code> and <code>bob</code>, password <code>demo</code>.</p>
</main>
</body>
</html>
`;
}
