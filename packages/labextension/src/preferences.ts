/**
 * The person's Token Broker preferences from the settings registry. Only preferences live there,
 * never a token or any other secret.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal, type ISignal } from '@lumino/signaling';

import { DEFAULT_SNIPPET_URL, isSnippetLanguage } from './snippets';
import type { SnippetLanguage } from './tokens';

/** The plugin whose schema (`schema/panel.json`) holds the preferences. */
export const PREFERENCES_PLUGIN_ID = 'jupyter-token-broker:panel';

/**
 * The preferences, as `schema/panel.json` describes them.
 */
export interface IPreferences {
  /** The provider chosen first; empty: none. */
  readonly defaultProvider: string;
  /** The snippet language, or `auto` for the notebook kernel's language. */
  readonly snippetLanguage: SnippetLanguage | 'auto';
  /** The URL snippets call. */
  readonly snippetUrl: string;
  /** Whether the status bar item shows. */
  readonly statusBar: boolean;
}

/** The schema's defaults. */
export const DEFAULT_PREFERENCES: IPreferences = Object.freeze({
  defaultProvider: '',
  snippetLanguage: 'auto',
  snippetUrl: DEFAULT_SNIPPET_URL,
  statusBar: true
});

/**
 * The current preferences, kept up to date with the settings registry.
 *
 * @example
 * ```ts
 * const preferences = await Preferences.load(settingRegistry);
 * preferences.changed.connect(() => console.info(preferences.current.statusBar));
 * ```
 */
export class Preferences {
  private _current: IPreferences;
  private readonly _changed = new Signal<Preferences, IPreferences>(this);

  /**
   * @param initial - the starting preferences.
   */
  constructor(initial: IPreferences = DEFAULT_PREFERENCES) {
    this._current = initial;
  }

  /**
   * Loads the preferences and follows their changes. Without a registry, or when it fails, the
   * defaults apply (the extension still works).
   *
   * @param registry - the settings registry, if present.
   * @returns the preferences.
   */
  static async load(registry: ISettingRegistry | null): Promise<Preferences> {
    const preferences = new Preferences();
    if (!registry) {
      return preferences;
    }
    try {
      const settings = await registry.load(PREFERENCES_PLUGIN_ID);
      preferences._set(readPreferences(settings.composite));
      settings.changed.connect(() => preferences._set(readPreferences(settings.composite)));
    } catch (error) {
      console.warn('Token Broker: preferences not loaded, using defaults', error);
    }
    return preferences;
  }

  /** The preferences now. */
  get current(): IPreferences {
    return this._current;
  }

  /** Fires with the new preferences after they changed. */
  get changed(): ISignal<Preferences, IPreferences> {
    return this._changed;
  }

  private _set(next: IPreferences): void {
    this._current = next;
    this._changed.emit(next);
  }
}

/**
 * Reads the preferences from composite settings, using the default for any missing or bad value.
 *
 * @param composite - `settings.composite`.
 * @returns the preferences.
 *
 * @example
 * ```ts
 * readPreferences({ statusBar: false }).statusBar; // false
 * ```
 */
export function readPreferences(composite: Readonly<Record<string, unknown>>): IPreferences {
  const { defaultProvider, snippetLanguage, snippetUrl, statusBar } = composite;
  return Object.freeze({
    defaultProvider:
      typeof defaultProvider === 'string' ? defaultProvider : DEFAULT_PREFERENCES.defaultProvider,
    snippetLanguage:
      snippetLanguage === 'auto' || isSnippetLanguage(snippetLanguage)
        ? snippetLanguage
        : DEFAULT_PREFERENCES.snippetLanguage,
    snippetUrl:
      typeof snippetUrl === 'string' && /^https?:\/\//.test(snippetUrl)
        ? snippetUrl
        : DEFAULT_PREFERENCES.snippetUrl,
    statusBar: typeof statusBar === 'boolean' ? statusBar : DEFAULT_PREFERENCES.statusBar
  });
}
