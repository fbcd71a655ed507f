/**
 * The Token Broker commands and their palette entries.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { writeSystemClipboard } from './clipboard';
import { copiedMessage, copyAuthorizationHeader } from './copyHeader';
import { describeError } from './errors';
import { keyIcon } from './icon';
import { pickProvider } from './providerPicker';
import { CommandIDs, type IProviderInfo, type ITokenBroker } from './tokens';

/** The palette category of every Token Broker command. */
const CATEGORY = 'Token Broker';

/**
 * Registers the `token-broker:*` commands and, when a palette is given, their palette entries.
 *
 * @param app - the JupyterLab application.
 * @param broker - the token broker service.
 * @param panelId - the id of the Token Broker panel, for `open-panel`.
 * @param palette - the command palette, if present.
 */
export function registerCommands(
  app: JupyterFrontEnd,
  broker: ITokenBroker,
  panelId: string,
  palette: ICommandPalette | null
): void {
  app.commands.addCommand(CommandIDs.openPanel, {
    label: 'Token Broker: Open Panel',
    caption: 'Show the Token Broker panel',
    icon: keyIcon,
    execute: () => app.shell.activateById(panelId)
  });

  app.commands.addCommand(CommandIDs.signIn, {
    label: args => withProvider('Token Broker: Sign In', args),
    caption: 'Sign in to an identity provider through a login window',
    execute: args => {
      const requested = providerArg(args);
      if (requested !== undefined) {
        // Straight from the palette click or key press: the popup opens before any await.
        return report(broker.signIn(requested));
      }
      return report(
        pickProvider(
          broker,
          undefined,
          p => !p.signedIn || p.needsLogin,
          'Sign in to which provider?'
        ).then(p => (p ? broker.signIn(p.id) : undefined))
      );
    }
  });

  app.commands.addCommand(CommandIDs.signOut, {
    label: args => withProvider('Token Broker: Sign Out', args),
    caption: 'Forget the sign-in and every cached token of an identity provider',
    execute: args =>
      report(
        pickProvider(
          broker,
          providerArg(args),
          p => p.signedIn,
          'Sign out of which provider?'
        ).then(async p => {
          if (p) {
            await broker.signOut(p.id);
            Notification.info(`Signed out of ${p.title}`, { autoClose: 4000 });
          }
        })
      )
  });

  app.commands.addCommand(CommandIDs.copyHeader, {
    label: args => withProvider('Token Broker: Copy Authorization Header', args),
    caption: 'Copy an Authorization: Bearer header with a fresh access token to the clipboard',
    execute: args =>
      report(
        pickProvider(broker, providerArg(args), isActive, 'Copy a header for which provider?').then(
          async p => {
            if (p) {
              const expiresIn = await copyAuthorizationHeader(broker, p.id, {
                clipboard: writeSystemClipboard
              });
              Notification.success(copiedMessage(p.title, expiresIn), { autoClose: 6000 });
            }
          }
        )
      )
  });

  if (palette) {
    for (const command of [
      CommandIDs.openPanel,
      CommandIDs.signIn,
      CommandIDs.signOut,
      CommandIDs.copyHeader
    ]) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
}

function isActive(provider: IProviderInfo): boolean {
  return provider.signedIn && !provider.needsLogin;
}

function providerArg(args: ReadonlyPartialJSONObject): string | undefined {
  return typeof args.provider === 'string' ? args.provider : undefined;
}

/** `Token Broker: Sign In…`, or `Token Broker: Sign In (demo)` with a provider argument. */
function withProvider(label: string, args: ReadonlyPartialJSONObject): string {
  const provider = providerArg(args);
  return provider === undefined ? `${label}…` : `${label} (${provider})`;
}

/** Shows a failed command's error as a notification; the command itself then resolves. */
async function report(action: Promise<unknown>): Promise<void> {
  try {
    await action;
  } catch (error) {
    const { code, description } = describeError(error);
    Notification.error(`${description} (${code})`, { autoClose: 8000 });
  }
}
