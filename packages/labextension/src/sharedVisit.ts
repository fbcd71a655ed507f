/**
 * Whether this JupyterLab is a visit to someone else's server through JupyterHub sharing. The
 * single-user server's page config names the person logged in (`hubUser`) and the server's owner
 * (`hubServerUser`); a token broker serves only the owner, so a visitor's panel says so instead of
 * showing errors.
 */

/** A visit to another person's server. */
export interface ISharedVisit {
  /** Who is logged in to JupyterHub and visiting. */
  readonly visitor: string;
  /** Whose server (and token broker) this is. */
  readonly owner: string;
}

/**
 * The visit a page config describes.
 *
 * @param config - JupyterLab's page config (`#jupyter-config-data`).
 * @returns the visit, or `null` for the owner's own server or outside JupyterHub.
 * @example
 * ```ts
 * sharedVisit({ hubUser: 'bob', hubServerUser: 'alice' }); // { visitor: 'bob', owner: 'alice' }
 * ```
 */
export function sharedVisit(config: Readonly<Record<string, unknown>>): ISharedVisit | null {
  const { hubUser, hubServerUser } = config;
  if (typeof hubUser !== 'string' || typeof hubServerUser !== 'string') {
    return null;
  }
  if (hubUser === '' || hubServerUser === '' || hubUser === hubServerUser) {
    return null;
  }
  return Object.freeze({ visitor: hubUser, owner: hubServerUser });
}

/**
 * The visit this page is, from its `#jupyter-config-data` element.
 *
 * @param doc - the document (the page's own by default).
 * @returns the visit, or `null`.
 */
export function pageSharedVisit(doc: Document = document): ISharedVisit | null {
  const text = doc.getElementById('jupyter-config-data')?.textContent;
  if (!text) {
    return null;
  }
  try {
    const config: unknown = JSON.parse(text);
    return typeof config === 'object' && config !== null
      ? sharedVisit(config as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * What the panel says to a visitor.
 *
 * @param visit - the visit.
 * @returns one sentence.
 */
export function ownerOnlyText(visit: ISharedVisit): string {
  return `Owner only: this server belongs to ${visit.owner}, and its Token Broker serves only ${visit.owner}. You are visiting as ${visit.visitor} through JupyterHub sharing; use the Token Broker of your own server.`;
}
