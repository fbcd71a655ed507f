/**
 * Type tests: this file only has to compile (`npm run test:types`). Each `@ts-expect-error` line
 * is a test that the compiler rejects what it should.
 */
import type { ISession, ITokenBroker } from '../src/tokens';

/** Compiles only when `A` and `B` are the same type. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

export async function createIfNoneNarrows(broker: ITokenBroker): Promise<void> {
  const session = await broker.getSession('demo', ['demo:read'], { createIfNone: true });
  expectType<Equal<typeof session, ISession>>();
  // No `| undefined` check is needed before using the token.
  void session.accessToken.length;
}

export async function forceNewSessionNarrows(broker: ITokenBroker): Promise<ISession> {
  const session = await broker.getSession('demo', [], { forceNewSession: true });
  expectType<Equal<typeof session, ISession>>();
  return session;
}

export async function silentMayBeUndefined(broker: ITokenBroker): Promise<void> {
  const session = await broker.getSession('demo', [], { silent: true });
  expectType<Equal<typeof session, ISession | undefined>>();
  // @ts-expect-error the session may be undefined without createIfNone
  void session.accessToken;
}

export async function noOptionsMayBeUndefined(broker: ITokenBroker): Promise<ISession | undefined> {
  const session = await broker.getSession('demo', []);
  expectType<Equal<typeof session, ISession | undefined>>();
  return session;
}

export async function sessionsAreReadonly(broker: ITokenBroker): Promise<void> {
  const session = await broker.getSession('demo', [], { createIfNone: true });
  // @ts-expect-error sessions are readonly
  session.accessToken = 'x';
  // @ts-expect-error scopes are a readonly array
  session.scopes.push('admin');
}
