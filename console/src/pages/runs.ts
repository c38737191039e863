// Run logs: the tenant's invocations, filtered and paged, with a detail view
// per record, a live-follow mode on the server-sent event stream, and charts
// of the recent past (invocations, failures, p50/p99 latency).
import { api, seg } from '../api';
import { barChart, lineChart } from '../chart';
import { h, replace, uid } from '../dom';
import type { Action, Invocation, Summary } from '../model';
import { tenantHref } from '../route';
import type { Ctx, Mount } from '../types';
import { describe as message, emptyState, field, pageHeading } from '../ui';

/** The outcomes the API records and filters by (runner/openapi.json). */
const OUTCOMES = ['success', 'failure', 'limit', 'trap', 'bad-response', 'busy', 'host-error', 'cancelled'];
const PAGE_SIZE = 50;
/** Chart periods: minutes and how many buckets to split them in. */
const PERIODS = [
  { minutes: 15, buckets: 15, label: 'Last 15 minutes' },
  { minutes: 60, buckets: 30, label: 'Last hour' },
  { minutes: 1440, buckets: 48, label: 'Last 24 hours' },
];
const CHART_REFRESH_MS = 30_000;
/** New live rows are announced at most this often, as one sentence. */
const ANNOUNCE_EVERY_MS = 5_000;

interface Filters {
  action: string;
  outcome: string;
  since: string;
  until: string;
  requestId: string;
}

export const mount: Mount = (root, ctx) => {
  const page = new RunsPage(root, ctx);
  page.start();
  return () => page.stop();
};

class RunsPage {
  private readonly base: string;
  private filters: Filters = { action: '', outcome: '', since: '', until: '', requestId: '' };
  private next: string | undefined;
  private readonly shown = new Set<string>();
  private stream: EventSource | null = null;
  private chartTimer: number | undefined;
  private announceTimer: number | undefined;
  private unannounced = 0;
  private stopped = false;

  // Regions the page fills in as answers arrive.
  private readonly actionSelect = h('select', { id: uid('action'), name: 'action' }, h('option', { value: '' }, 'All actions'));
  private readonly filterError = h('p', { role: 'alert', class: 'form-error' });
  private readonly listStatus = h('p', { role: 'status', class: 'status' });
  private readonly liveStatus = h('p', { role: 'status', class: 'status' });
  private readonly liveError = h('p', { role: 'alert', class: 'form-error' });
  private readonly liveButton = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'Live follow');
  private readonly tbody = h('tbody');
  private readonly tableBox = h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Invocations table' });
  private readonly emptyBox = h('div');
  private readonly olderButton = h('button', { type: 'button', class: 'secondary' }, 'Load older');
  private readonly periodSelect = h(
    'select',
    { id: uid('period') },
    ...PERIODS.map((p) => h('option', { value: String(p.minutes), selected: p.minutes === 60 }, p.label)),
  );
  private readonly charts = h('div', { class: 'chart-grid' });
  private readonly chartStatus = h('p', { role: 'status', class: 'status' });

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: Ctx,
  ) {
    this.base = `/tenants/${seg(ctx.tenant)}/invocations`;
  }

  start(): void {
    replace(
      this.root,
      pageHeading('Run logs'),
      h('p', { class: 'lede' }, 'Every invocation of your actions and provider: when it ran, how it ended and how long it took.'),
      this.chartSection(),
      this.filterForm(),
      this.liveControls(),
      this.tableSection(),
    );
    this.olderButton.addEventListener('click', () => void this.loadPage(true));
    this.periodSelect.addEventListener('change', () => void this.loadCharts());
    this.liveButton.addEventListener('click', () => this.setLive(!this.stream));
    void this.loadActions();
    void this.loadPage(false);
    void this.loadCharts();
  }

  stop(): void {
    this.stopped = true;
    this.closeStream();
    window.clearInterval(this.chartTimer);
    window.clearTimeout(this.announceTimer);
  }

  // ----- charts -----

  private chartSection(): HTMLElement {
    const heading = uid('charts');
    return h(
      'section',
      { 'aria-labelledby': heading, class: 'panel' },
      h('h2', { id: heading }, 'Activity'),
      h('div', { class: 'field inline' }, h('label', { for: this.periodSelect.id }, 'Period'), this.periodSelect),
      this.chartStatus,
      this.charts,
    );
  }

  private async loadCharts(): Promise<void> {
    const period = PERIODS.find((p) => String(p.minutes) === this.periodSelect.value) ?? PERIODS[1];
    let summary: Summary;
    try {
      summary = await api<Summary>('GET', `${this.base}/summary?minutes=${period.minutes}&buckets=${period.buckets}`);
    } catch (err) {
      if (!this.stopped) this.chartStatus.textContent = `Charts unavailable: ${message(err)}`;
      return;
    }
    if (this.stopped) return;
    this.chartStatus.textContent = summary.truncated
      ? 'This period had more invocations than one summary reads: its oldest buckets undercount.'
      : '';
    const at = (start: string) => new Date(start);
    const lower = period.label.toLowerCase();
    replace(
      this.charts,
      barChart({
        title: `Invocations and failures, ${lower}`,
        unit: 'invocations',
        series: [
          { name: 'Invocations', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.invocations })) },
          { name: 'Failures', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.failures })) },
        ],
      }),
      lineChart({
        title: `Latency p50 and p99, ${lower}`,
        unit: 'ms',
        series: [
          { name: 'p50', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p50Ms })) },
          { name: 'p99', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p99Ms })) },
        ],
      }),
    );
  }

  // ----- filters -----

  private filterForm(): HTMLElement {
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
      this.filterError,
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
      this.applyFilters(read());
    });
    // After the browser has cleared the fields.
    form.addEventListener('reset', () => window.setTimeout(() => this.applyFilters(read()), 0));
    return form;
  }

  private applyFilters(filters: Filters): void {
    this.filters = filters;
    void this.loadPage(false);
    // The stream takes the action and outcome filters: reopen it with them.
    if (this.stream) {
      this.closeStream();
      this.openStream();
    }
  }

  private async loadActions(): Promise<void> {
    try {
      const { actions } = await api<{ actions: Action[] }>('GET', `/tenants/${seg(this.ctx.tenant)}/actions`);
      for (const action of actions) {
        const label = action.displayName && action.displayName !== action.name ? `${action.name} (${action.displayName})` : action.name;
        this.actionSelect.append(h('option', { value: action.name }, label));
      }
    } catch (err) {
      // The filter still works for "all actions"; say why the list is short.
      this.filterError.textContent = `Actions could not be listed: ${message(err)}`;
    }
  }

  /** The filters as the list route takes them; datetime-local is local time, sent as RFC 3339 UTC. */
  private query(before?: string): string {
    const params = new URLSearchParams();
    const f = this.filters;
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

  // ----- the table -----

  private tableSection(): HTMLElement {
    const heading = uid('list');
    const cols = ['Time', 'Action', 'Version', 'Outcome', 'ms', 'Limit hit', 'Request id'];
    replace(
      this.tableBox,
      h(
        'table',
        { class: 'data runs' },
        h('caption', { class: 'sr-only' }, 'Invocations, newest first. Open a row’s time for its details.'),
        h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c)))),
        this.tbody,
      ),
    );
    this.olderButton.hidden = true;
    return h(
      'section',
      { 'aria-labelledby': heading },
      h('h2', { id: heading }, 'Invocations'),
      this.listStatus,
      this.emptyBox,
      this.tableBox,
      h('div', { class: 'actions' }, this.olderButton),
    );
  }

  private async loadPage(older: boolean): Promise<void> {
    this.filterError.textContent = '';
    this.listStatus.textContent = older ? 'Loading older invocations…' : 'Loading invocations…';
    let page: { invocations: Invocation[]; next?: string };
    try {
      page = await api('GET', `${this.base}?${this.query(older ? this.next : undefined)}`);
    } catch (err) {
      if (this.stopped) return;
      this.listStatus.textContent = '';
      // A bad filter is a 400 naming the parameter: show it by the form.
      this.filterError.textContent = message(err);
      return;
    }
    if (this.stopped) return;
    if (!older) {
      this.tbody.replaceChildren();
      this.shown.clear();
    }
    for (const record of page.invocations) this.addRow(record, 'end');
    this.next = page.next;
    this.olderButton.hidden = !page.next;
    const count = this.shown.size;
    this.listStatus.textContent = older
      ? `${page.invocations.length} older invocations loaded; ${count} shown.`
      : `${count} invocation${count === 1 ? '' : 's'} shown${page.next ? ', older ones can be loaded' : ''}.`;
    this.updateEmptyState();
  }

  private updateEmptyState(): void {
    const empty = this.shown.size === 0;
    this.tableBox.hidden = empty;
    if (!empty) {
      this.emptyBox.replaceChildren();
      return;
    }
    const filtered = Object.values(this.filters).some((v) => v !== '');
    replace(
      this.emptyBox,
      filtered
        ? emptyState('No invocations match these filters.')
        : emptyState('No invocations yet — ', h('a', { href: tenantHref(this.ctx.tenant, 'try') }, 'try an action'), '.'),
    );
  }

  private addRow(record: Invocation, where: 'start' | 'end'): void {
    if (this.shown.has(record.id)) return;
    this.shown.add(record.id);
    const detailId = uid('detail');
    const detailRow = h('tr', { class: 'detail-row', id: detailId, hidden: true });
    const opener = h(
      'button',
      { type: 'button', class: 'link-button', 'aria-expanded': 'false', 'aria-controls': detailId },
      h('time', { datetime: record.time }, formatTime(record.time)),
    );
    opener.addEventListener('click', () => void this.toggleDetail(record, opener, detailRow));
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
  }

  private async toggleDetail(record: Invocation, opener: HTMLButtonElement, detailRow: HTMLTableRowElement): Promise<void> {
    const open = opener.getAttribute('aria-expanded') === 'true';
    opener.setAttribute('aria-expanded', String(!open));
    detailRow.hidden = open;
    // Fetched once; a failed fetch is tried again on the next opening.
    if (open || detailRow.dataset.loaded === 'yes') return;
    const cell = h('td', { colspan: '7' }, h('p', { role: 'status' }, 'Loading the record…'));
    replace(detailRow, cell);
    try {
      const full = await api<Invocation>('GET', `${this.base}/${seg(record.id)}`);
      replace(cell, invocationDetail(full));
      detailRow.dataset.loaded = 'yes';
    } catch (err) {
      replace(cell, h('p', { role: 'alert', class: 'form-error' }, message(err)));
    }
  }

  // ----- live follow -----

  private liveControls(): HTMLElement {
    return h(
      'div',
      { class: 'live' },
      this.liveButton,
      h('small', { class: 'help' }, 'Adds new invocations to the top of the table as they happen (action and outcome filters apply) and refreshes the charts every 30 seconds.'),
      this.liveStatus,
      this.liveError,
    );
  }

  private setLive(on: boolean): void {
    this.liveButton.setAttribute('aria-pressed', String(on));
    this.liveError.textContent = '';
    window.clearInterval(this.chartTimer);
    this.chartTimer = undefined;
    if (on) {
      this.openStream();
      this.chartTimer = window.setInterval(() => void this.loadCharts(), CHART_REFRESH_MS);
      void this.loadCharts();
      this.liveStatus.textContent = 'Live follow on.';
    } else {
      this.closeStream();
      this.liveStatus.textContent = 'Live follow off.';
    }
  }

  private openStream(): void {
    const params = new URLSearchParams();
    if (this.filters.action) params.set('action', this.filters.action);
    if (this.filters.outcome) params.set('outcome', this.filters.outcome);
    const qs = params.toString();
    // EventSource sends the session cookie (same origin); GET needs no CSRF token.
    const stream = new EventSource(`/admin/v1${this.base}/stream${qs ? `?${qs}` : ''}`);
    stream.onmessage = (event) => this.onEvent(event.data);
    stream.onopen = () => {
      this.liveError.textContent = '';
      void this.catchUp();
    };
    stream.onerror = () => {
      if (stream.readyState === EventSource.CLOSED) {
        // The browser gave up: the server refused the stream (an answer
        // other than an event stream) rather than the connection dropping.
        this.setLive(false);
        this.liveError.textContent =
          'The live stream was refused (a tenant may have 4 streams open at once, or the session ended). Live follow is off.';
      } else {
        this.liveError.textContent = 'The live stream was interrupted; reconnecting…';
      }
    };
    this.stream = stream;
  }

  /**
   * The stream starts after the newest record at the moment it opens, so
   * what was recorded between the table's load and then is fetched once.
   */
  private async catchUp(): Promise<void> {
    let page: { invocations: Invocation[] };
    try {
      page = await api('GET', `${this.base}?${this.query()}`);
    } catch {
      return; // The table stays as it was; the stream goes on.
    }
    if (this.stopped) return;
    const newest = Math.max(0, ...[...this.shown].map(Number).filter(Number.isFinite));
    const missed = page.invocations.filter((r) => Number(r.id) > newest && !this.shown.has(r.id));
    // The list is newest first; prepend the oldest first so the newest ends on top.
    for (const record of missed.reverse()) this.addLive(record);
  }

  private closeStream(): void {
    this.stream?.close();
    this.stream = null;
  }

  private onEvent(data: string): void {
    let record: Invocation;
    try {
      record = JSON.parse(data) as Invocation;
    } catch {
      return; // Not a record (the stream sends nothing else).
    }
    this.addLive(record);
  }

  private addLive(record: Invocation): void {
    if (this.shown.has(record.id)) return;
    this.addRow(record, 'start');
    this.updateEmptyState();
    this.unannounced += 1;
    // One polite sentence per few seconds, however many rows arrived.
    if (this.announceTimer === undefined) {
      this.announceTimer = window.setTimeout(() => this.announce(), ANNOUNCE_EVERY_MS);
    }
  }

  private announce(): void {
    this.announceTimer = undefined;
    if (this.stopped || this.unannounced === 0) return;
    const n = this.unannounced;
    this.unannounced = 0;
    this.liveStatus.textContent = `${n} new invocation${n === 1 ? '' : 's'} added at the top.`;
  }
}

/** Everything the record has, as text (never markup). */
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
  parts.push(
    r.outbound.length === 0
      ? h('p', {}, 'None.')
      : h(
          'div',
          { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Outbound requests' },
          h(
            'table',
            { class: 'data' },
            h('thead', {}, h('tr', {}, ...['Method', 'Host', 'Status', 'Outcome', 'ms'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              ...r.outbound.map((o) =>
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
        ),
  );
  parts.push(h('h3', {}, 'Standard error'));
  parts.push(r.stderr ? h('pre', { class: 'code-block', tabindex: '0', 'aria-label': 'Standard error' }, r.stderr) : h('p', {}, 'Nothing written.'));
  return h('div', { class: 'invocation-detail' }, ...parts);
}

function fmtMs(ms: number): string {
  return ms.toLocaleString(undefined, { maximumFractionDigits: 3 });
}

/** A record's time in the viewer's zone, to the second. */
function formatTime(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** A datetime-local value (local time, no zone) as RFC 3339 in UTC; '' stays ''. */
function toRfc3339(local: string): string {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
}
