/**
 * The demo IdP behind jupyter-server-proxy: where only the Jupyter server reaches the browser (a public
 * BinderHub), the browser signs in at `{jupyter}{base_url}proxy/absolute/{idp port}/…`.
 *
 * jupyter-server-proxy's absolute mode forwards the full path, so the IdP sees the path the browser sees:
 * `mountBehindJupyterProxy` strips the prefix for oidc-provider and records it as the mount path (oidc-provider
 * builds its resume URLs and cookie paths from `req.originalUrl`), keeps the IdP's own redirects and cookies
 * under that prefix, and makes its redirects path-only so the browser stays on the Jupyter origin (the IdP
 * only sees plain http, while the Jupyter server may be https).
 *
 * Requests on the plain path (`/auth`, `/token`, …, from the broker on 127.0.0.1) are left alone.
 */

/** The Jupyter server's token broker callback, relative to the server's base URL. */
const CALLBACK_PATH = 'token-broker/api/v1/callback';

/**
 * The jupyter-server-proxy prefix of a request path, if it has one.
 *
 * @param {string} pathname - the request path as received.
 * @param {number} port - the IdP's own port.
 * @returns {{mountPath: string, baseUrl: string} | null} `mountPath` `{base_url}proxy/absolute/{port}` (no
 *   trailing slash) and the Jupyter server's `baseUrl` (with trailing slash), or null for a direct request.
 * @example
 * jupyterProxyMount('/user/a/proxy/absolute/9400/auth', 9400);
 * // { mountPath: '/user/a/proxy/absolute/9400', baseUrl: '/user/a/' }
 */
export function jupyterProxyMount(pathname, port) {
  const marker = `/proxy/absolute/${port}`;
  const at = pathname.indexOf(`${marker}/`);
  if (at < 0) {
    return null;
  }
  return { mountPath: pathname.slice(0, at + marker.length), baseUrl: pathname.slice(0, at + 1) };
}

/**
 * The mount path of a request that came through the proxy (set by {@link mountBehindJupyterProxy}), else ''.
 *
 * @param {import('node:http').IncomingMessage} req - the request.
 * @returns {string} `{base_url}proxy/absolute/{port}` or ''.
 */
export function mountPathOf(req) {
  return req.jupyterProxy?.mountPath ?? '';
}

/**
 * Whether a redirect URI is the token broker callback of the Jupyter server this request came through:
 * same host, that server's base URL. Only a person signed in to that Jupyter server gets through its proxy,
 * so the code can only go back to that server (where the login's state and PKCE verifier wait).
 *
 * @param {import('node:http').IncomingMessage | undefined} req - the authorization request.
 * @param {string} redirectUri - the redirect URI asked for.
 * @returns {boolean} true for `http(s)://{Host}{base_url}token-broker/api/v1/callback`.
 */
export function isProxiedServerCallback(req, redirectUri) {
  const mount = req?.jupyterProxy;
  const host = req?.headers.host;
  if (!mount || !host) {
    return false;
  }
  return ['http', 'https'].some(
    scheme => redirectUri === `${scheme}://${host}${mount.baseUrl}${CALLBACK_PATH}`
  );
}

/**
 * Prepares a request that came through jupyter-server-proxy (absolute mode) for oidc-provider and the
 * interaction routes; does nothing to a direct request.
 *
 * @param {import('node:http').IncomingMessage} req - the request; its `url` loses the prefix.
 * @param {import('node:http').ServerResponse} res - the response; its redirects and cookies stay under the prefix.
 * @param {number} port - the IdP's own port.
 * @returns {boolean} whether the request came through the proxy.
 */
export function mountBehindJupyterProxy(req, res, port) {
  const rawUrl = req.url ?? '/';
  const mount = jupyterProxyMount(new URL(rawUrl, 'http://idp.invalid').pathname, port);
  if (!mount) {
    return false;
  }
  req.jupyterProxy = mount;
  req.originalUrl = rawUrl;
  req.url = rawUrl.slice(mount.mountPath.length);
  const ownOrigins = ['http', 'https'].map(scheme => `${scheme}://${req.headers.host}`);
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name, value) => {
    const header = name.toLowerCase();
    if (header === 'location') {
      return setHeader(name, pathOnlyLocation(String(value), ownOrigins, mount.mountPath));
    }
    if (header === 'set-cookie') {
      const cookies = Array.isArray(value) ? value : [String(value)];
      return setHeader(
        name,
        cookies.map(cookie => cookie.replace(/;\s*path=\/(?=;|$)/i, `; path=${mount.mountPath}/`))
      );
    }
    return setHeader(name, value);
  };
  return true;
}

/**
 * A redirect to the IdP itself (oidc-provider builds it from the Host it saw, with plain http) as a path,
 * so the browser keeps the Jupyter server's scheme; any other redirect (the callback) as it is.
 */
function pathOnlyLocation(location, ownOrigins, mountPath) {
  for (const origin of ownOrigins) {
    if (location.startsWith(`${origin}${mountPath}/`)) {
      return location.slice(origin.length);
    }
  }
  return location;
}

/**
 * Lets the provider's clients also use the token broker callback of the Jupyter server an authorization
 * request came through (see {@link isProxiedServerCallback}), besides their registered redirect URIs: on
 * Binder the server's public URL is known only when the browser arrives.
 *
 * @param {import('oidc-provider').default} provider - the provider.
 * @param {() => import('node:http').IncomingMessage | undefined} currentRequest - the request being handled
 *   (`Provider.ctx?.req`).
 */
export function allowJupyterProxyCallbacks(provider, currentRequest) {
  const { prototype } = provider.Client;
  const registered = prototype.redirectUriAllowed;
  prototype.redirectUriAllowed = function redirectUriAllowed(redirectUri) {
    return (
      registered.call(this, redirectUri) || isProxiedServerCallback(currentRequest(), redirectUri)
    );
  };
}
