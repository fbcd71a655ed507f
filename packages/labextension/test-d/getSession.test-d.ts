/**
 * Type tests: this file only has to compile (`npm run test:types`). Each `@ts-expect-error` line
 * is a test that the compiler rejects what it should.
 */
import type {
  IConsent,
  IPickResult,
  ISession,
  ITokenBroker,
  ITokenBrokerClient,
  SnippetLanguage
} from '../src/index';
import { ConsentError, FIRST_PARTY_CLIENT } from '../src/index';

/** Compiles only when `A` and `B` are the same type. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

export async function createIfNoneNarrows(broker: ITokenBroker): Promise<void> {
  const tokens = broker.forClient('@acme/archive:plugin');
  const session = await tokens.getSession('demo', ['demo:read'], { createIfNone: true });
  expectType<Equal<typeof session, ISession>>();
  // No `| undefined` check is needed before using the token.
  void session.accessToken.length;
}

export async function createIfNoneWithOtherOptionsNarrows(tokens: ITokenBrokerClient) {
  const session = await tokens.getSession('demo', [], { createIfNone: true, minTtl: 120 });
  expectType<Equal<typeof session, ISession>>();
  return session;
}

export async function forceNewSessionNarrows(tokens: ITokenBrokerClient): Promise<ISession> {
  const session = await tokens.getSession('demo', [], { forceNewSession: true });
  expectType<Equal<typeof session, ISession>>();
  return session;
}

export async function silentMayBeUndefined(tokens: ITokenBrokerClient): Promise<void> {
  const session = await tokens.getSession('demo', [], { silent: true });
  expectType<Equal<typeof session, ISession | undefined>>();
  // @ts-expect-error the session may be undefined without createIfNone
  void session.accessToken;
}

export async function createIfNoneFalseMayBeUndefined(tokens: ITokenBrokerClient) {
  const session = await tokens.getSession('demo', [], { createIfNone: false });
  expectType<Equal<typeof session, ISession | undefined>>();
  return session;
}

export async function noOptionsMayBeUndefined(
  tokens: ITokenBrokerClient
): Promise<ISession | undefined> {
  const session = await tokens.getSession('demo', []);
  expectType<Equal<typeof session, ISession | undefined>>();
  return session;
}

export async function sessionsAreReadonly(tokens: ITokenBrokerClient): Promise<void> {
  const session = await tokens.getSession('demo', [], { createIfNone: true });
  // @ts-expect-error sessions are readonly
  session.accessToken = 'x';
  // @ts-expect-error scopes are a readonly array
  session.scopes.push('admin');
}

export function tokenRequestsNeedAClient(broker: ITokenBroker): void {
  // @ts-expect-error token requests go through forClient(pluginId), never the service itself
  void broker.getSession('demo', [], { createIfNone: true });
  expectType<Equal<typeof FIRST_PARTY_CLIENT, 'jupyterlab'>>();
}

export async function fetchNeedsAProvider(tokens: ITokenBrokerClient): Promise<Response> {
  // @ts-expect-error `provider` is required: fetch must know whose token to send
  await tokens.fetch('https://api.example.org/', { method: 'GET' });
  const response = await tokens.fetch('https://api.example.org/', {
    provider: 'demo',
    scopes: ['demo:read'],
    method: 'POST',
    body: '{}'
  });
  expectType<Equal<typeof response, Response>>();
  return response;
}

export async function pickMayBeCancelled(tokens: ITokenBrokerClient): Promise<void> {
  const session = await tokens.pick({ title: 'Which account?' });
  expectType<Equal<typeof session, ISession | undefined>>();
  const choice: IPickResult = { provider: 'demo', scopes: [] };
  void [choice, session];
}

export async function consentDecisionsAreClosed(broker: ITokenBroker): Promise<void> {
  const [first] = await broker.consents();
  expectType<Equal<IConsent['decision'], 'allow' | 'allow_always' | 'deny'>>();
  void first;
  // @ts-expect-error only the known languages
  const language: SnippetLanguage = 'cobol';
  void language;
}

export function consentErrorsHaveClosedCodes(error: unknown): string | undefined {
  if (error instanceof ConsentError) {
    expectType<Equal<typeof error.code, 'consent_denied' | 'consent_cancelled'>>();
    return error.client;
  }
  return undefined;
}
