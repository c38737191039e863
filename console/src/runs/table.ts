// The run log's Invocations section: the table (newest first), its status
// line, its empty state and the "Load older" button. It remembers which
// records it shows, so the list, the catch-up read and the live stream can
// all offer the same record without it appearing twice.
import { seg } from '../api';
import { h, replace, uid } from '../dom';
import type { Invocation } from '../model';
import { tenantHref } from '../route';
import { emptyState } from '../ui';
import { toggleDetail } from './detail';

const COLUMNS = ['Time', 'Action', 'Version', 'Outcome', 'ms', 'Limit hit', 'Request id'];

export class InvocationTable {
  readonly section: HTMLElement;
  private readonly shown = new Set<string>();
  private readonly status = h('p', { role: 'status', class: 'status' });
  private readonly tbody = h('tbody');
  private readonly tableBox = h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Invocations table' });
  private readonly emptyBox = h('div');
  private readonly olderButton = h('button', { type: 'button', class: 'secondary' }, 'Load older');

  /**
   * `listPath`: the invocations route under /admin/v1 (a record is
   * `${listPath}/${id}`); `tenant` for the empty state's link to Try it.
   */
  constructor(
    private readonly listPath: string,
    private readonly tenant: string,
    onOlder: () => void,
  ) {
    const heading = uid('list');
    replace(
      this.tableBox,
      h(
        'table',
        { class: 'data runs' },
        h('caption', { class: 'sr-only' }, 'Invocations, newest first. Open a row’s time for its details.'),
        h('thead', {}, h('tr', {}, ...COLUMNS.map((c) => h('th', { scope: 'col' }, c)))),
        this.tbody,
      ),
    );
    this.olderButton.hidden = true;
    this.olderButton.addEventListener('click', onOlder);
    this.section = h(
      'section',
      { 'aria-labelledby': heading },
      h('h2', { id: heading }, 'Invocations'),
      this.status,
      this.emptyBox,
      this.tableBox,
      h('div', { class: 'actions' }, this.olderButton),
    );
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  setHasOlder(more: boolean): void {
    // Hiding the focused button would drop focus to <body>: keep the
    // keyboard user at the table they were paging through.
    if (!more && document.activeElement === this.olderButton) this.tableBox.focus();
    this.olderButton.hidden = !more;
  }

  /** How many records are shown. */
  get size(): number {
    return this.shown.size;
  }

  has(id: string): boolean {
    return this.shown.has(id);
  }

  /** The highest record id shown, 0 when none (ids are increasing integers). */
  newestId(): number {
    return Math.max(0, ...[...this.shown].map(Number).filter(Number.isFinite));
  }

  /** Empties the table (a fresh first page replaces everything). */
  clear(): void {
    this.tbody.replaceChildren();
    this.shown.clear();
  }

  /** Shows the table, or says why it is empty (`filtered`: because of the filters). */
  updateEmptyState(filtered: boolean): void {
    const empty = this.shown.size === 0;
    this.tableBox.hidden = empty;
    if (!empty) {
      this.emptyBox.replaceChildren();
      return;
    }
    replace(
      this.emptyBox,
      filtered
        ? emptyState('No invocations match these filters.')
        : emptyState('No invocations yet — ', h('a', { href: tenantHref(this.tenant, 'try') }, 'try an action'), '.'),
    );
  }

  /**
   * Adds a record's row (and its hidden detail row) at the top (live) or
   * the bottom (older pages). False when the record is already shown.
   */
  add(record: Invocation, where: 'start' | 'end'): boolean {
    if (this.shown.has(record.id)) return false;
    this.shown.add(record.id);
    const detailId = uid('detail');
    const detailRow = h('tr', { class: 'detail-row', id: detailId, hidden: true });
    const opener = h(
      'button',
      { type: 'button', class: 'link-button', 'aria-expanded': 'false', 'aria-controls': detailId },
      h('time', { datetime: record.time }, formatTime(record.time)),
    );
    opener.addEventListener('click', () => void toggleDetail(`${this.listPath}/${seg(record.id)}`, opener, detailRow));
    // Rows that arrived live are tinted (the announcement says so in words).
    const row = h(
      'tr',
      { class: where === 'start' ? 'live-row' : undefined },
      h('td', {}, opener),
      h('td', {}, record.action),
      h('td', { class: 'num' }, String(record.version)),
      h('td', {}, h('span', { class: `outcome outcome-${record.outcome}` }, record.outcome)),
      h('td', { class: 'num' }, String(record.ms)),
      h('td', {}, record.limitHit ?? '—'),
      h('td', {}, h('code', { class: 'request-id' }, record.requestId)),
    );
    if (where === 'start') this.tbody.prepend(row, detailRow);
    else this.tbody.append(row, detailRow);
    return true;
  }
}

/** A record's time in the viewer's zone, to the second. */
function formatTime(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}
