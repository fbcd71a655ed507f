/**
 * Building DOM elements: text is always set as text, never parsed as HTML.
 */

/** Attributes of an element; `false`/`null`/`undefined` leave the attribute out. */
export type Attributes = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** A child: an element, or text. */
export type Child = Node | string | null | undefined | false;

/**
 * Creates an element with attributes and children.
 *
 * @param tag - the tag name.
 * @param attributes - attributes (`class`, `aria-*`, `data-*`, …); `true` sets an empty attribute.
 * @param children - elements and text.
 * @returns the element.
 *
 * @example
 * ```ts
 * const badge = h('span', { class: 'badge text-bg-success' }, 'ok');
 * ```
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) {
      continue;
    }
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      element.append(child);
    }
  }
  return element;
}

/**
 * A Bootstrap badge.
 *
 * @param text - its text.
 * @param tone - Bootstrap's colour name (`success`, `danger`, `secondary`, …).
 * @returns the badge.
 */
export function badge(text: string, tone: string): HTMLSpanElement {
  return h('span', { class: `badge text-bg-${tone}` }, text);
}
