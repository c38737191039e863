// Building DOM nodes by construction: text always goes in as text nodes, so
// nothing a tenant or guest wrote can become markup.

type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined | EventListener;

/**
 * Makes an element. Attributes named `on<event>` take a listener; `true`
 * sets a boolean attribute, `false`/null/undefined leaves it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) {
      // Only a function becomes a listener: a string would be an inline
      // handler (script from text), which the console never writes.
      if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, ...children);
  return element;
}

/** Appends children, skipping empty ones. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    // Only real nodes go in as nodes: anything else, even an object that
    // slipped through from a tenant's JSON (a provider's `title: {…}`), is text.
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let ids = 0;
/** A document-unique id, for label/aria wiring. */
export function uid(prefix = 'c'): string {
  ids += 1;
  return `${prefix}-${ids}`;
}
