// One invocation's detail, in the row under its table row: fetched the
// first time it is opened (the list carries only the summary fields).
import { api } from '../api';
import { h, replace } from '../dom';
import type { Invocation } from '../model';
import { errorParagraph } from '../ui';

/**
 * Opens or closes `detailRow` (the button's aria-expanded follows). The
 * record is fetched from `recordPath` once; a failed fetch is tried again
 * on the next opening.
 */
export async function toggleDetail(recordPath: string, opener: HTMLButtonElement, detailRow: HTMLTableRowElement): Promise<void> {
  const open = opener.getAttribute('aria-expanded') === 'true';
  opener.setAttribute('aria-expanded', String(!open));
  detailRow.hidden = open;
  if (open || detailRow.dataset.loaded === 'yes') return;
  const cell = h('td', { colspan: '7' }, h('p', { role: 'status' }, 'Loading the record…'));
  replace(detailRow, cell);
  try {
    const full = await api<Invocation>('GET', recordPath);
    replace(cell, invocationDetail(full));
    detailRow.dataset.loaded = 'yes';
  } catch (err) {
    replace(cell, errorParagraph(err));
  }
}

/** Everything the record has, as text (never markup: input, answer and stderr are the tenant's). */
function invocationDetail(r: Invocation): HTMLElement {
  const parts: (HTMLElement | null)[] = [];
  const facts: [string, string][] = [
    ['Record id', r.id],
    ['Started', r.time],
    ['Compiler tier', r.tier ?? '—'],
    ['Queue', `${fmtMs(r.timing.queueMs)} ms`],
    ['Instantiate', `${fmtMs(r.timing.instantiateMs)} ms`],
    ['Run', `${fmtMs(r.timing.runMs)} ms`],
    ['Total', `${r.ms} ms`],
  ];
  if (r.answer) facts.push(['HTTP status answered', String(r.answer.status)]);
  parts.push(h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  if (r.answer && r.answer.body !== undefined) {
    parts.push(h('h3', {}, 'Answer body'), h('pre', { class: 'code-block', tabindex: '0', 'aria-label': 'Answer body' }, JSON.stringify(r.answer.body, null, 2)));
  } else if (r.answer) {
    parts.push(h('p', {}, 'The answer body was over 4 KiB and is not kept.'));
  }
  if (r.input) {
    parts.push(h('h3', {}, 'Input'), h('pre', { class: 'code-block', tabindex: '0', 'aria-label': 'Input' }, JSON.stringify(r.input, null, 2)));
  }
  parts.push(h('h3', {}, 'Outbound requests'));
  parts.push(r.outbound.length === 0 ? h('p', {}, 'None.') : outboundTable(r.outbound));
  parts.push(h('h3', {}, 'Standard error'));
  parts.push(r.stderr ? h('pre', { class: 'code-block', tabindex: '0', 'aria-label': 'Standard error' }, r.stderr) : h('p', {}, 'Nothing written.'));
  return h('div', { class: 'invocation-detail' }, ...parts);
}

/** The outbound HTTP calls the run made, in a scrolling box (hosts can be long). */
function outboundTable(outbound: Invocation['outbound']): HTMLElement {
  return h(
    'div',
    { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Outbound requests' },
    h(
      'table',
      { class: 'data' },
      h('thead', {}, h('tr', {}, ...['Method', 'Host', 'Status', 'Outcome', 'ms'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...outbound.map((o) =>
          h(
            'tr',
            {},
            h('td', {}, o.method),
            h('td', {}, o.host),
            h('td', { class: 'num' }, o.status === null ? 'no response' : String(o.status)),
            h('td', {}, o.outcome),
            h('td', { class: 'num' }, String(o.ms)),
          ),
        ),
      ),
    ),
  );
}

/** Sub-millisecond phases keep up to three decimals. */
function fmtMs(ms: number): string {
  return ms.toLocaleString(undefined, { maximumFractionDigits: 3 });
}
