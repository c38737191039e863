// The run log's filter form and the query strings built from it: the list
// route takes every filter, the event stream only action and outcome.
import { api, seg } from '../api';
import { h, uid } from '../dom';
import type { Action } from '../model';
import { describe as message, field } from '../ui';

/** The outcomes the API records and filters by (runner/openapi.json). */
const OUTCOMES = ['success', 'failure', 'limit', 'trap', 'bad-response', 'busy', 'host-error', 'cancelled'];
/** Records per page of the list (and per catch-up read of live follow). */
const PAGE_SIZE = 50;

/** The form's values as typed (datetime-local values, trimmed request id). */
export interface Filters {
  action: string;
  outcome: string;
  since: string;
  until: string;
  requestId: string;
}

export const NO_FILTERS: Filters = { action: '', outcome: '', since: '', until: '', requestId: '' };

/** Whether any filter is set (an empty table then says "no match", not "nothing yet"). */
export function anyFilter(filters: Filters): boolean {
  return Object.values(filters).some((v) => v !== '');
}

/** The filters as the list route takes them; datetime-local is local time, sent as RFC 3339 UTC. */
export function listQuery(f: Filters, before?: string): string {
  const params = new URLSearchParams();
  if (f.action) params.set('action', f.action);
  if (f.outcome) params.set('outcome', f.outcome);
  const since = toRfc3339(f.since);
  const until = toRfc3339(f.until);
  if (since) params.set('since', since);
  if (until) params.set('until', until);
  if (f.requestId) params.set('requestId', f.requestId);
  params.set('limit', String(PAGE_SIZE));
  if (before) params.set('before', before);
  return params.toString();
}

/** The filters the event stream takes (it has no time range or request id); '' when none. */
export function streamQuery(f: Filters): string {
  const params = new URLSearchParams();
  if (f.action) params.set('action', f.action);
  if (f.outcome) params.set('outcome', f.outcome);
  return params.toString();
}

/**
 * The form. `onApply` hears the values on submit and on Clear. `error` is
 * the alert region beside it: the page puts list failures there too, since
 * a bad filter is what usually causes them.
 */
export class FilterForm {
  readonly element: HTMLFormElement;
  readonly error = h('p', { role: 'alert', class: 'form-error' });
  private readonly actionSelect = h('select', { id: uid('action'), name: 'action' }, h('option', { value: '' }, 'All actions'));

  constructor(onApply: (filters: Filters) => void) {
    const outcome = h(
      'select',
      { id: uid('outcome'), name: 'outcome' },
      h('option', { value: '' }, 'Any outcome'),
      ...OUTCOMES.map((o) => h('option', { value: o }, o)),
    );
    const since = h('input', { id: uid('since'), name: 'since', type: 'datetime-local', step: '1' });
    const until = h('input', { id: uid('until'), name: 'until', type: 'datetime-local', step: '1' });
    const requestId = h('input', { id: uid('rid'), name: 'requestId', type: 'text', maxlength: '200', autocomplete: 'off', spellcheck: 'false' });
    const form = h(
      'form',
      { class: 'filters', 'aria-label': 'Filter invocations' },
      field('Action', this.actionSelect),
      field('Outcome', outcome),
      field('Since (your local time)', since),
      field('Until (your local time)', until),
      field('Request id (X-Request-Id)', requestId),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit' }, 'Apply filters'),
        h('button', { type: 'reset', class: 'secondary' }, 'Clear'),
      ),
      this.error,
    );
    const read = (): Filters => ({
      action: this.actionSelect.value,
      outcome: outcome.value,
      since: since.value,
      until: until.value,
      requestId: requestId.value.trim(),
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      onApply(read());
    });
    // After the browser has cleared the fields.
    form.addEventListener('reset', () => window.setTimeout(() => onApply(read()), 0));
    this.element = form;
  }

  /** Fills the action choice with the tenant's actions. */
  async loadActions(tenant: string): Promise<void> {
    try {
      const { actions } = await api<{ actions: Action[] }>('GET', `/tenants/${seg(tenant)}/actions`);
      for (const action of actions) {
        const label = action.displayName && action.displayName !== action.name ? `${action.name} (${action.displayName})` : action.name;
        this.actionSelect.append(h('option', { value: action.name }, label));
      }
    } catch (err) {
      // The filter still works for "all actions"; say why the list is short.
      this.error.textContent = `Actions could not be listed: ${message(err)}`;
    }
  }
}

/** A datetime-local value (local time, no zone) as RFC 3339 in UTC; '' stays ''. */
function toRfc3339(local: string): string {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
}
