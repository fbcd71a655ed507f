/**
 * Ready-to-run code that calls an API with a token from the broker. A snippet never contains a
 * token: it asks the broker when it runs (through the kernel helper `jupyter_token_broker`), or,
 * for a provider with an egress, lets the broker add the token (`broker_session`).
 */
import { egressPrefixFor } from './egress';
import type { IProviderInfo, SnippetLanguage } from './tokens';

/** The URL a snippet calls when the person set none. */
export const DEFAULT_SNIPPET_URL = 'https://api.example.org/';

/**
 * The snippet languages with their menu labels, in menu order.
 */
export const SNIPPET_LANGUAGES: ReadonlyArray<{ id: SnippetLanguage; label: string }> = [
  { id: 'python-requests', label: 'Python requests' },
  { id: 'python-httpx', label: 'Python httpx' },
  { id: 'r-httr2', label: 'R httr2' },
  { id: 'curl', label: 'curl' },
  { id: 'javascript-fetch', label: 'JavaScript fetch' }
];

/**
 * What a snippet calls, with which provider's token.
 */
export interface ISnippetRequest {
  /** The provider id. */
  readonly provider: string;
  /** The scopes to ask for; empty for the provider's default token. */
  readonly scopes: ReadonlyArray<string>;
  /** The API URL. */
  readonly url: string;
  /**
   * The provider's egress prefixes ({@link IProviderInfo.egress}); when there are any, the Python
   * snippets call through the broker's egress (`broker_session`, `BrokerTransport`), so the token
   * never enters the kernel, and a URL under none of them is replaced by the first.
   */
  readonly egress?: ReadonlyArray<string>;
  /**
   * Whether the provider hands out tokens ({@link IProviderInfo.exposeToken}; `true` when omitted).
   * `false`: no snippet asks for a token; outside Python it says how to call it instead.
   */
  readonly exposeToken?: boolean;
}

/**
 * Whether a value names a snippet language.
 *
 * @param value - any value, e.g. a command argument.
 * @returns `true` for one of {@link SNIPPET_LANGUAGES}.
 *
 * @example
 * ```ts
 * isSnippetLanguage('r-httr2'); // true
 * ```
 */
export function isSnippetLanguage(value: unknown): value is SnippetLanguage {
  return SNIPPET_LANGUAGES.some(l => l.id === value);
}

/**
 * The snippet language that suits a kernel, for the `auto` setting.
 *
 * @param kernelLanguage - the kernel's language (`python`, `R`, `javascript`…), if known.
 * @returns the matching language; Python requests for anything else.
 *
 * @example
 * ```ts
 * languageForKernel('R'); // 'r-httr2'
 * ```
 */
export function languageForKernel(kernelLanguage: string | undefined): SnippetLanguage {
  const name = (kernelLanguage ?? '').toLowerCase();
  if (name === 'r') {
    return 'r-httr2';
  }
  if (name === 'javascript' || name === 'typescript') {
    return 'javascript-fetch';
  }
  if (name === 'bash' || name === 'sh' || name === 'shell') {
    return 'curl';
  }
  return 'python-requests';
}

/**
 * The code of a snippet.
 *
 * @param language - the snippet language.
 * @param request - provider, scopes and URL.
 * @returns source code that fetches the token when it runs; it contains no token.
 *
 * @example
 * ```ts
 * snippet('python-requests', { provider: 'demo', scopes: [], url: 'https://api.example.org/' });
 * ```
 */
export function snippet(language: SnippetLanguage, request: ISnippetRequest): string {
  const egress = request.egress ?? [];
  const pythonEgress = egress.length > 0 && language.startsWith('python-');
  if (pythonEgress) {
    return pythonThroughEgress(language, request, egress);
  }
  if (request.exposeToken === false) {
    return noTokenNote(language, request);
  }
  switch (language) {
    case 'python-requests':
      return pythonRequests(request);
    case 'python-httpx':
      return pythonHttpx(request);
    case 'r-httr2':
      return rHttr2(request);
    case 'curl':
      return curl(request);
    case 'javascript-fetch':
      return javascriptFetch(request);
  }
}

function pythonArgs(request: ISnippetRequest): string {
  const provider = pyString(request.provider);
  return request.scopes.length === 0
    ? provider
    : `${provider}, scopes=[${request.scopes.map(pyString).join(', ')}]`;
}

function pythonRequests(request: ISnippetRequest): string {
  return [
    'import requests',
    'from jupyter_token_broker import BrokerAuth',
    '',
    '# BrokerAuth asks the token broker for a fresh access token on every request.',
    `response = requests.get(${pyString(request.url)}, auth=BrokerAuth(${pythonArgs(request)}))`,
    'response.raise_for_status()',
    'response.json()'
  ].join('\n');
}

function pythonHttpx(request: ISnippetRequest): string {
  return [
    'import httpx',
    'from jupyter_token_broker import BrokerAuth',
    '',
    '# BrokerAuth asks the token broker for a fresh access token on every request.',
    `response = httpx.get(${pyString(request.url)}, auth=BrokerAuth(${pythonArgs(request)}))`,
    'response.raise_for_status()',
    'response.json()'
  ].join('\n');
}

/** The API URL of an egress snippet: the person's, when the egress covers it, else its first prefix. */
function egressTarget(url: string, egress: ReadonlyArray<string>): string {
  try {
    if (egressPrefixFor(egress, new URL(url))) {
      return url;
    }
  } catch {
    // Not a URL: the prefix is a working example.
  }
  return egress[0];
}

function pythonThroughEgress(
  language: SnippetLanguage,
  request: ISnippetRequest,
  egress: ReadonlyArray<string>
): string {
  const provider = pyString(request.provider);
  const url = pyString(egressTarget(request.url, egress));
  const comment = [
    '# The broker adds the token on its side: it never enters this kernel. It calls only URLs under',
    `# ${egress.join(', ')}.`
  ];
  if (language === 'python-httpx') {
    return [
      'import httpx',
      'from jupyter_token_broker import BrokerTransport',
      '',
      ...comment,
      `with httpx.Client(transport=BrokerTransport(${provider})) as client:`,
      `    response = client.get(${url})`,
      'response.raise_for_status()',
      'response.json()'
    ].join('\n');
  }
  return [
    'from jupyter_token_broker import broker_session',
    '',
    ...comment,
    `session = broker_session(${provider})`,
    `response = session.get(${url})`,
    'response.raise_for_status()',
    'response.json()'
  ].join('\n');
}

/** For a provider that hands out no token, outside Python: a note in the language's comments. */
function noTokenNote(language: SnippetLanguage, request: ISnippetRequest): string {
  const lead = language === 'javascript-fetch' ? '//' : '#';
  const lines = [
    `${request.provider} hands out no tokens to notebook code: its API is called through the`,
    'token broker, from a Python kernel:',
    '',
    '    from jupyter_token_broker import broker_session',
    `    broker_session(${pyString(request.provider)}).get(${pyString(request.url)}).json()`
  ];
  return [
    ...(language === 'curl' ? ['%%bash'] : []),
    ...lines.map(l => `${lead} ${l}`.trimEnd())
  ].join('\n');
}

/**
 * The snippet request for a provider as listed: its egress and whether it hands out tokens.
 *
 * @param provider - the provider as listed.
 * @param scopes - the scopes chosen.
 * @param url - the API URL the person set.
 * @returns the request for {@link snippet}.
 *
 * @example
 * ```ts
 * snippet('python-requests', snippetRequest(provider, [], 'https://archive.example.org/tap/'));
 * ```
 */
export function snippetRequest(
  provider: IProviderInfo,
  scopes: ReadonlyArray<string>,
  url: string
): ISnippetRequest {
  return {
    provider: provider.id,
    scopes,
    url,
    egress: provider.egress,
    exposeToken: provider.exposeToken
  };
}

/** The Python one-liner that prints a token, for kernels that cannot import the helper. */
function printTokenProgram(request: ISnippetRequest, prefix: string): string {
  const call = `get_token(${pythonArgs(request)})`;
  const value = prefix === '' ? call : `${pyString(prefix)} + ${call}`;
  return `from jupyter_token_broker import get_token; print(${value}, end="")`;
}

function rHttr2(request: ISnippetRequest): string {
  const program = printTokenProgram(request, '');
  return [
    'library(httr2)',
    '',
    '# R cannot import the Python helper: it runs it. "python3" must be the Python of the',
    "# environment where jupyter-token-broker is installed (the Jupyter server's). The token is",
    '# read from its output, never printed or stored; httr2 redacts it when printing requests.',
    'broker_token <- function() {',
    `  token <- system2("python3", c("-c", shQuote(${rString(program)})), stdout = TRUE)`,
    '  if (!is.null(attr(token, "status"))) stop("The token broker gave no token (see the message above).")',
    '  token',
    '}',
    '',
    `response <- request(${rString(request.url)}) |>`,
    '  req_auth_bearer_token(broker_token()) |>',
    '  req_perform()',
    'resp_body_json(response)'
  ].join('\n');
}

function curl(request: ISnippetRequest): string {
  const program = printTokenProgram(request, 'Authorization: Bearer ');
  return [
    '%%bash',
    '# The header goes to curl on stdin (-H @-), so the token never shows up in the process list.',
    '# python3 must be the Python of the environment where jupyter-token-broker is installed.',
    `python3 -c ${shString(program)} \\`,
    `  | curl --fail-with-body -sS -H @- ${shString(request.url)}`
  ].join('\n');
}

function javascriptFetch(request: ISnippetRequest): string {
  const program = printTokenProgram(request, '');
  return [
    '// For a JavaScript kernel (Node.js or Deno with --allow-run) running in the environment where',
    '// jupyter-token-broker is installed: it runs the Python helper and reads the token from its',
    '// output. Inside a JupyterLab extension use ITokenBroker instead:',
    "//   broker.forClient('<your plugin id>').fetch(url, { provider: 'demo' })",
    "const { execFileSync } = await import('node:child_process');",
    `const token = execFileSync('python3', ['-c', ${jsString(program)}], { encoding: 'utf8' });`,
    `const response = await fetch(${jsString(request.url)}, {`,
    '  headers: { Authorization: `Bearer ${token}` }',
    '});',
    'if (!response.ok) throw new Error(`HTTP ${response.status}`);',
    'await response.json();'
  ].join('\n');
}

/** A Python string literal (double quotes, escaped). */
function pyString(value: string): string {
  return JSON.stringify(value);
}

/** An R string literal; R accepts JSON's escapes for these characters. */
function rString(value: string): string {
  return JSON.stringify(value);
}

/** A JavaScript string literal (single quotes, as the rest of the snippet). */
function jsString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A POSIX shell word in single quotes. */
function shString(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}
