/**
 * Test doubles at the seams the extension exposes: the server connection's `fetch` (a tiny broker
 * API that answers like the real one) and the window that opens login popups.
 */
import type { ServerConnection } from '@jupyterlab/services';

import type { LoginHost } from '../src/loginPopup';

export const ORIGIN = 'http://127.0.0.1:9799';
export const BASE_URL = `${ORIGIN}/user/alice/`;

/** One request the fake server saw. */
export interface ISeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

type Handler = (request: ISeenRequest) => {
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
};

/**
 * A broker API behind `fetch`: routes are `METHOD path` (path below `token-broker/api/v1/`).
 */
export class FakeBrokerApi {
  readonly seen: ISeenRequest[] = [];
  private readonly _routes = new Map<string, Handler>();

  on(route: string, handler: Handler): this {
    this._routes.set(route, handler);
    return this;
  }

  settings(): ServerConnection.ISettings {
    const fetchFn = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      const prefix = '/user/alice/token-broker/api/v1/';
      if (!url.pathname.startsWith(prefix)) {
        return new Response('not found', { status: 404 });
      }
      const text = await request.text();
      const seen: ISeenRequest = {
        method: request.method,
        path: url.pathname.slice(prefix.length),
        query: url.searchParams,
        headers: request.headers,
        body: text === '' ? undefined : JSON.parse(text)
      };
      this.seen.push(seen);
      const handler = this._routes.get(`${seen.method} ${seen.path}`);
      if (!handler) {
        return Response.json(
          { error: 'unknown_provider', error_description: 'no route' },
          { status: 404 }
        );
      }
      const answer = handler(seen);
      const headers = answer.headers ?? {};
      if (answer.text !== undefined) {
        return new Response(answer.text, { status: answer.status, headers });
      }
      return answer.body === undefined
        ? new Response(null, { status: answer.status, headers })
        : Response.json(answer.body, { status: answer.status, headers });
    };
    return {
      baseUrl: BASE_URL,
      appUrl: '',
      wsUrl: 'ws://127.0.0.1:9799/user/alice/',
      init: { cache: 'no-store', credentials: 'same-origin' },
      token: 'server-token',
      appendToken: false,
      fetch: fetchFn,
      Request,
      Headers,
      WebSocket: undefined as unknown as typeof WebSocket,
      serializer: undefined as unknown as ServerConnection.ISettings['serializer']
    } as ServerConnection.ISettings;
  }
}

/** A provider entry as the broker lists it. */
export function wireProvider(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'demo',
    title: 'Demo IdP',
    kind: 'oidc',
    grant: 'authorization_code',
    narrowing: 'refuse',
    signed_in: false,
    account: null,
    scopes: ['openid', 'demo:read'],
    expires_at: null,
    needs_login: true,
    ...overrides
  };
}

/** The popup window the fake host opens. */
export class FakePopup {
  closed = false;
  readonly location = { href: '' };
  readonly document = { title: '', body: { textContent: '' } };

  close(): void {
    this.closed = true;
  }
}

/**
 * The window that opens popups and receives `message` events.
 */
export class FakeHost {
  readonly location = { origin: ORIGIN };
  readonly opened: { url: string; name: string; features: string }[] = [];
  popup: FakePopup | null = new FakePopup();
  private readonly _listeners = new Set<(event: MessageEvent) => void>();

  open(url: string, name: string, features: string): FakePopup | null {
    this.opened.push({ url, name, features });
    return this.popup;
  }

  addEventListener(type: string, listener: (event: MessageEvent) => void): void {
    if (type === 'message') {
      this._listeners.add(listener);
    }
  }

  removeEventListener(type: string, listener: (event: MessageEvent) => void): void {
    if (type === 'message') {
      this._listeners.delete(listener);
    }
  }

  setInterval(handler: () => void, ms: number): number {
    return setInterval(handler, ms) as unknown as number;
  }

  clearInterval(id: number): void {
    clearInterval(id);
  }

  /** Delivers a `message` event as the browser would. */
  post(data: unknown, origin = ORIGIN): void {
    const event = { data, origin } as MessageEvent;
    for (const listener of [...this._listeners]) {
      listener(event);
    }
  }

  get listenerCount(): number {
    return this._listeners.size;
  }

  asLoginHost(): LoginHost {
    return this as unknown as LoginHost;
  }
}

/** Resolves after the pending promise callbacks and one timer turn. */
export function settle(ms = 0): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** Waits until `condition` holds (polling), or fails after `ms`. */
export async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) {
      throw new Error('condition not met in time');
    }
    await settle(5);
  }
}
