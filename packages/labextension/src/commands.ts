/**
 * The Token Broker commands, their palette entries and the notebook cell context menu. They use
 * the public {@link ITokenBroker} API in JupyterLab's own name, as any plugin would in its own.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { type ICommandPalette, Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { writeSystemClipboard } from './clipboard';
import { copiedMessage, copyAuthorizationHeader } from './copyHeader';
import { describeError, TokenBrokerError } from './errors';
import { keyIcon } from './icon';
import { activeKernelLanguage, insertCodeCell } from './notebookSnippet';
import { showTokenPicker } from './pickerDialog';
import type { Preferences } from './preferences';
import { pickProvider } from './providerPicker';
import {
  isSnippetLanguage,
  languageForKernel,
  snippet,
  snippetRequest,
  SNIPPET_LANGUAGES
} from './snippets';
import { signOutMessage } from './signOutMessage';
import {
  CommandIDs,
  FIRST_PARTY_CLIENT,
  type IProviderInfo,
  type ITokenBroker,
  type SnippetLanguage
} from './tokens';

/** The palette category of every Token Broker command. */
const CATEGORY = 'Token Broker';

/**
 * What the commands need from the application.
 */
export interface ICommandsContext {
  /** The JupyterLab application. */
  readonly app: JupyterFrontEnd;
  /** The token broker service. */
  readonly broker: ITokenBroker;
  /** The id of the Token Broker panel, for `open-panel`. */
  readonly panelId: string;
  /** The person's preferences. */
  readonly preferences: Preferences;
  /** The command palette, if present. */
  readonly palette: ICommandPalette | null;
  /** The notebook tracker, if present (for `insert-snippet`). */
  readonly notebooks: INotebookTracker | null;
}

/**
 * Registers the `token-broker:*` commands and their palette entries. The "Token Broker" submenu
 * of the notebook cell context menu is declared in `schema/panel.json` (`jupyter.lab.menus`).
 *
 * @param context - the application parts the commands use.
 *
 * @example
 * ```ts
 * registerCommands({ app, broker, panelId: panel.id, preferences, palette, notebooks });
 * ```
 */
export function registerCommands(context: ICommandsContext): void {
  const { app, broker, panelId, preferences, palette, notebooks } = context;
  const tokens = broker.forClient(FIRST_PARTY_CLIENT);
  const preferred = (): string => preferences.current.defaultProvider;

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
      const requested = stringArg(args, 'provider');
      if (requested !== undefined) {
        // Straight from the palette click or key press: the popup opens before any await.
        return report(tokens.signIn(requested));
      }
      return report(
        pickProvider(
          tokens,
          undefined,
          needsSignIn,
          'Sign in to which provider?',
          preferred()
        ).then(p => (p ? tokens.signIn(p.id) : undefined))
      );
    }
  });

  app.commands.addCommand(CommandIDs.signOut, {
    label: args => withProvider('Token Broker: Sign Out', args),
    caption: 'Forget the sign-in and every cached token of an identity provider',
    execute: args =>
      report(
        pickProvider(
          tokens,
          stringArg(args, 'provider'),
          p => p.signedIn,
          'Sign out of which provider?',
          preferred()
        ).then(async p => {
          if (p) {
            const message = signOutMessage(p.title, await tokens.signOut(p.id));
            if (message.warning) {
              Notification.warning(message.text, { autoClose: false });
            } else {
              Notification.info(message.text, { autoClose: 4000 });
            }
          }
        })
      )
  });

  const copyHeader = async (provider: IProviderInfo, scopes: ReadonlyArray<string>) => {
    const expiresIn = await copyAuthorizationHeader(tokens, provider.id, {
      clipboard: writeSystemClipboard,
      scopes
    });
    Notification.success(copiedMessage(provider.title, expiresIn), { autoClose: 10000 });
  };

  app.commands.addCommand(CommandIDs.copyHeader, {
    label: args =>
      args.inMenu === true
        ? 'Copy Authorization Header…'
        : withProvider('Token Broker: Copy Authorization Header', args),
    caption:
      'Copy an Authorization: Bearer header with a fresh access token to the clipboard (a secret)',
    icon: args => (args.inMenu === true ? keyIcon : undefined),
    execute: args =>
      report(
        pickProvider(
          tokens,
          stringArg(args, 'provider'),
          p => isActive(p) && p.exposeToken,
          'Copy a header for which provider?',
          preferred()
        ).then(p => (p ? copyHeader(p, stringsArg(args, 'scopes')) : undefined))
      )
  });

  const insertSnippet = (
    provider: IProviderInfo,
    scopes: ReadonlyArray<string>,
    language: SnippetLanguage | undefined
  ) => {
    if (!notebooks) {
      throw new TokenBrokerError('no_notebook', 'Notebooks are not available here.');
    }
    const chosen =
      language ??
      (preferences.current.snippetLanguage === 'auto'
        ? languageForKernel(activeKernelLanguage(notebooks))
        : preferences.current.snippetLanguage);
    insertCodeCell(
      notebooks,
      snippet(chosen, snippetRequest(provider, scopes, preferences.current.snippetUrl))
    );
    if (!isActive(provider)) {
      Notification.info(`Sign in to ${provider.title} before running the new cell.`, {
        autoClose: 6000
      });
    }
  };

  app.commands.addCommand(CommandIDs.insertSnippet, {
    label: args => snippetLabel(args),
    caption: 'Insert a code cell that calls an API with a token from the token broker',
    isEnabled: () => notebooks?.currentWidget != null,
    execute: args => {
      const language = stringArg(args, 'language');
      return report(
        pickProvider(
          tokens,
          stringArg(args, 'provider'),
          () => true,
          'Insert a snippet for which provider?',
          preferred()
        ).then(p =>
          p
            ? insertSnippet(
                p,
                stringsArg(args, 'scopes'),
                isSnippetLanguage(language) ? language : undefined
              )
            : undefined
        )
      );
    }
  });

  app.commands.addCommand(CommandIDs.pick, {
    label: 'Token Broker: Choose a Token…',
    caption: 'Choose a provider and scopes, then copy a header or insert a snippet',
    icon: keyIcon,
    execute: args =>
      report(
        (async () => {
          const providers = await tokens.providers();
          if (providers.length === 0) {
            throw new TokenBrokerError('unknown_provider', 'No identity provider is configured.');
          }
          const actions = [{ label: 'Copy header', id: 'copy' }];
          if (notebooks?.currentWidget) {
            actions.unshift({ label: 'Insert snippet', id: 'snippet' });
          }
          const picked = await showTokenPicker(
            providers,
            { provider: stringArg(args, 'provider'), defaultProvider: preferred() },
            actions
          );
          if (!picked) {
            return;
          }
          const provider = providers.find(p => p.id === picked.choice.provider) as IProviderInfo;
          if (picked.action === 'snippet') {
            insertSnippet(provider, picked.choice.scopes, undefined);
            return;
          }
          if (!isActive(provider)) {
            // Right after the dialog's button click: the login popup is still allowed.
            await tokens.signIn(provider.id);
          }
          await copyHeader(provider, picked.choice.scopes);
        })()
      )
  });

  if (palette) {
    for (const command of [
      CommandIDs.openPanel,
      CommandIDs.pick,
      CommandIDs.signIn,
      CommandIDs.signOut,
      CommandIDs.copyHeader,
      CommandIDs.insertSnippet
    ]) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
}

function isActive(provider: IProviderInfo): boolean {
  return provider.signedIn && !provider.needsLogin;
}

function needsSignIn(provider: IProviderInfo): boolean {
  return !isActive(provider);
}

function stringArg(args: ReadonlyPartialJSONObject, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' ? value : undefined;
}

function stringsArg(args: ReadonlyPartialJSONObject, name: string): string[] {
  const value = args[name];
  return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : [];
}

/** `Token Broker: Sign In…`, or `Token Broker: Sign In (demo)` with a provider argument. */
function withProvider(label: string, args: ReadonlyPartialJSONObject): string {
  const provider = stringArg(args, 'provider');
  return provider === undefined ? `${label}…` : `${label} (${provider})`;
}

/** `Insert Python requests Snippet` in the menu, `Token Broker: Insert …` in the palette. */
function snippetLabel(args: ReadonlyPartialJSONObject): string {
  const language = SNIPPET_LANGUAGES.find(l => l.id === args.language);
  const what = language ? `Insert ${language.label} Snippet` : 'Insert Token Snippet…';
  return args.inMenu === true ? what : `Token Broker: ${what}`;
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
