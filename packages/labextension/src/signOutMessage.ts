/**
 * What the person is told once a sign-out is done: that it is, or, when the identity provider did not
 * end the sign-in (no revocation endpoint, unreachable, refused), the broker's notice, which says that
 * the sign-out happened here only and why.
 */
import type { ISignOutResult } from './tokens';

/** The text of the notification, and whether it is a warning. */
export interface ISignOutMessage {
  readonly text: string;
  readonly warning: boolean;
}

/**
 * The notification of a sign-out.
 *
 * @param title - the provider's title.
 * @param result - what the sign-out did.
 * @returns the text, a warning when the identity provider did not revoke the sign-in.
 *
 * @example
 * ```ts
 * signOutMessage('Demo IdP', { revoked: true }); // { text: 'Signed out of Demo IdP', warning: false }
 * ```
 */
export function signOutMessage(title: string, result: ISignOutResult): ISignOutMessage {
  if (result.revoked) {
    return { text: `Signed out of ${title}`, warning: false };
  }
  return { text: `${title}: ${result.notice.description}`, warning: true };
}
