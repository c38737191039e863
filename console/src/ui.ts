// Widgets every page uses: headings, labelled fields, status and error
// regions, copy fields, inline confirmation, scrolling tables, formats.
import { ApiError } from './api';
import { append, h, replace, uid } from './dom';
import type { Session } from './types';

/** The page's one h1; focusable so the router can move focus to it on navigation. */
export function pageHeading(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: -1 }, text);
}

/** The wording to show for a failure: the server's own message when there is one. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A region for one form's errors. It exists (empty) before anything goes
 * wrong, so screen readers announce what is put in later.
 */
export function alertRegion(): HTMLDivElement {
  return h('div', { role: 'alert', class: 'form-error' });
}

/** A polite live region for progress and results. */
export function statusRegion(): HTMLDivElement {
  return h('div', { role: 'status', class: 'status' });
}

/** Puts `error`'s wording into an alert region (or clears it with null). */
export function showError(region: HTMLElement, error: unknown): void {
  if (error === null) {
    replace(region);
  } else {
    replace(region, h('p', {}, describe(error)));
  }
}

/** A failure to load something, in the server's words, as an alert. */
export function errorParagraph(error: unknown): HTMLParagraphElement {
  return h('p', { role: 'alert', class: 'form-error' }, describe(error));
}

/** Shows "Loading…" in `root` until the page replaces it. */
export function loading(what: string): HTMLParagraphElement {
  return h('p', { role: 'status', class: 'muted' }, `Loading ${what}…`);
}

/**
 * A label, the control and an optional hint wired with aria-describedby.
 * The control gets an id when it has none.
 */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLDivElement {
  if (!control.id) control.id = uid('field');
  const wrapper = h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    // The hint sits between label and control so it is read in order.
    wrapper.insertBefore(h('p', { id: hintId, class: 'help' }, hint), control);
  }
  return wrapper;
}

/**
 * A read-only value with a Copy button. The clipboard may be refused (an
 * insecure origin, a denied permission): the text is then selected so
 * Ctrl+C copies it.
 */
export function copyField(label: string, value: string, options: { secret?: boolean } = {}): HTMLDivElement {
  const input = h('input', {
    type: 'text',
    readonly: true,
    value,
    class: options.secret ? 'code secret-value' : 'code',
    spellcheck: 'false',
    autocomplete: 'off',
  });
  const said = h('span', { role: 'status', class: 'copy-status' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          replace(said, 'Copied.');
        } catch {
          input.focus();
          input.select();
          replace(said, 'Selected: press Ctrl+C (⌘C) to copy.');
        }
      },
    },
    'Copy',
  );
  button.setAttribute('aria-label', `Copy ${label}`);
  const wrapper = field(label, input);
  wrapper.classList.add('copy-field');
  input.remove();
  append(wrapper, h('div', { class: 'copy-row' }, input, button), said);
  return wrapper;
}

/**
 * A button for something destructive that asks first, inline: the button
 * gives way to the question with a confirm and a cancel button (focus goes
 * to Cancel, so a stray Enter does nothing harmful). `act` runs on confirm;
 * its failure is shown beside the question.
 */
export function confirmButton(options: {
  label: string;
  /** Accessible name when the visible label is short ("Revoke" → "Revoke key abc…"). */
  ariaLabel?: string;
  question: string;
  confirmLabel: string;
  act: () => Promise<void>;
  danger?: boolean;
}): HTMLSpanElement {
  const holder = h('span', { class: 'confirm' });
  const trigger = h(
    'button',
    { type: 'button', class: options.danger === false ? 'secondary' : 'danger', 'aria-label': options.ariaLabel },
    options.label,
  );
  const ask = () => {
    const error = alertRegion();
    const confirm = h('button', { type: 'button', class: 'danger' }, options.confirmLabel);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const question = h('span', { class: 'confirm-question', id: uid('confirm') }, options.question);
    const group = h('span', { role: 'group', class: 'confirm-step', 'aria-labelledby': question.id }, question, confirm, cancel, error);
    cancel.addEventListener('click', () => {
      replace(holder, trigger);
      trigger.focus();
    });
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      showError(error, null);
      try {
        await options.act();
        // Done: the question gives way to the button again (unless the
        // page already re-rendered this part). Focus goes back to it when
        // it would otherwise drop to <body> with the removed confirm button;
        // focus that `act` put elsewhere (a new secret to copy) stays.
        if (holder.isConnected) {
          const active = document.activeElement;
          const lost = !active || active === document.body || holder.contains(active);
          replace(holder, trigger);
          if (lost) trigger.focus();
        }
      } catch (failure) {
        showError(error, failure);
        confirm.disabled = false;
        cancel.disabled = false;
      }
    });
    replace(holder, group);
    cancel.focus();
  };
  trigger.addEventListener('click', ask);
  append(holder, trigger);
  return holder;
}

/**
 * A wide table in its own scrolling box, so the page never scrolls
 * sideways on a phone; the box is focusable (keyboard scrolling) and named.
 */
export function scrollingTable(label: string, table: HTMLTableElement): HTMLDivElement {
  return h('div', { class: 'table-scroll', role: 'region', 'aria-label': `${label} (table)`, tabindex: 0 }, table);
}

/** A table with a caption (shown or visually hidden), column headers and rows of plain cells. */
export function dataTable(caption: string, headers: string[], rows: Node[][], options: { hiddenCaption?: boolean } = {}): HTMLTableElement {
  return tableOfRows(caption, headers, rows.map((cells) => h('tr', {}, ...cells.map((cell) => h('td', {}, cell)))), options);
}

/** A table with a caption, column headers and rows built by the page (row headers, cell classes). */
export function tableOfRows(caption: string, headers: string[], rows: HTMLTableRowElement[], options: { hiddenCaption?: boolean } = {}): HTMLTableElement {
  return h(
    'table',
    { class: 'data' },
    h('caption', { class: options.hiddenCaption ? 'sr-only' : undefined }, caption),
    h('thead', {}, h('tr', {}, ...headers.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, ...rows),
  );
}

/** The tenant's Workfront Base API URL: `${publicUrl}/t/${tenant}` (a trailing slash of publicUrl dropped). */
export function baseApiUrl(session: Session, tenant: string): string {
  return `${session.publicUrl.replace(/\/+$/, '')}/t/${tenant}`;
}

/** Bytes as KiB/MiB/GiB with one decimal where it helps. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** A time in the reader's locale, in a <time> element carrying the exact value. */
export function timeElement(iso: string): HTMLTimeElement {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
  return h('time', { datetime: iso }, text);
}

/** A code-styled span. */
export function code(text: string): HTMLElement {
  return h('code', {}, text);
}

/** A paragraph for "nothing here yet", with an optional next step. */
export function emptyState(...children: (Node | string)[]): HTMLParagraphElement {
  return h('p', { class: 'empty-state' }, ...children);
}

/** key/value pairs (a manifest's limits, grants) as a compact list, or a word when there are none. */
export function pairList(pairs: [string, string][], none: string): Node {
  if (pairs.length === 0) return document.createTextNode(none);
  return h('ul', { class: 'pairs' }, ...pairs.map(([key, value]) => h('li', {}, code(key), ' ', value)));
}
