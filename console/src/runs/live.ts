// Live follow: the Live follow toggle, the invocations event stream
// (EventSource), catching up on what the stream cannot replay, and the
// polite announcement of new rows — batched, so a busy tenant does not
// make a screen reader read every row.
import { api } from '../api';
import { h } from '../dom';
import type { Invocation } from '../model';
import type { RunCharts } from './charts';
import { anyFilter, listQuery, streamQuery, type Filters } from './filters';
import type { InvocationTable } from './table';

/** New live rows are announced at most this often, as one sentence. */
const ANNOUNCE_EVERY_MS = 5_000;

export class LiveFollow {
  readonly element: HTMLElement;
  private readonly button = h('button', { type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'Live follow');
  private readonly status = h('p', { role: 'status', class: 'status' });
  private readonly error = h('p', { role: 'alert', class: 'form-error' });
  private stream: EventSource | null = null;
  private announceTimer: number | undefined;
  private unannounced = 0;
  /** Set when the page goes away: no more rows, reads or announcements. */
  private stopped = false;

  /**
   * `listPath`: the invocations route under /admin/v1 (the stream is its
   * `/stream`); `filters` reads the page's current filters; new records go
   * into `table`; `charts` refresh while live follow is on.
   */
  constructor(
    private readonly listPath: string,
    private readonly filters: () => Filters,
    private readonly table: InvocationTable,
    private readonly charts: RunCharts,
  ) {
    this.element = h(
      'div',
      { class: 'live' },
      this.button,
      h('small', { class: 'help' }, 'Adds new invocations to the top of the table as they happen (action and outcome filters apply) and refreshes the charts every 30 seconds.'),
      this.status,
      this.error,
    );
    this.button.addEventListener('click', () => this.set(!this.stream));
  }

  /** The filters changed: a running stream is reopened with them (it takes action and outcome). */
  filtersChanged(): void {
    if (!this.stream) return;
    this.close();
    this.open();
  }

  /** Navigating away: the stream must not stay open (a tenant may hold only a few). */
  stop(): void {
    this.stopped = true;
    this.close();
    window.clearTimeout(this.announceTimer);
  }

  private set(on: boolean): void {
    this.button.setAttribute('aria-pressed', String(on));
    this.error.textContent = '';
    if (on) this.open();
    else this.close();
    this.charts.follow(on);
    this.status.textContent = on ? 'Live follow on.' : 'Live follow off.';
  }

  private open(): void {
    const qs = streamQuery(this.filters());
    // EventSource sends the session cookie (same origin); GET needs no CSRF token.
    const stream = new EventSource(`/admin/v1${this.listPath}/stream${qs ? `?${qs}` : ''}`);
    stream.onmessage = (event) => this.onEvent(event.data);
    stream.onopen = () => {
      this.error.textContent = '';
      void this.catchUp();
    };
    stream.onerror = () => {
      if (stream.readyState === EventSource.CLOSED) {
        // The browser gave up: the server refused the stream (an answer
        // other than an event stream) rather than the connection dropping.
        this.set(false);
        this.error.textContent =
          'The live stream was refused (a tenant may have 4 streams open at once, or the session ended). Live follow is off.';
      } else {
        this.error.textContent = 'The live stream was interrupted; reconnecting…';
      }
    };
    this.stream = stream;
  }

  private close(): void {
    this.stream?.close();
    this.stream = null;
  }

  /**
   * The stream starts after the newest record at the moment it opens, so
   * what was recorded between the table's load and then is fetched once.
   */
  private async catchUp(): Promise<void> {
    let page: { invocations: Invocation[] };
    try {
      page = await api('GET', `${this.listPath}?${listQuery(this.filters())}`);
    } catch {
      return; // The table stays as it was; the stream goes on.
    }
    if (this.stopped) return;
    const newest = this.table.newestId();
    const missed = page.invocations.filter((r) => Number(r.id) > newest && !this.table.has(r.id));
    // The list is newest first; prepend the oldest first so the newest ends on top.
    for (const record of missed.reverse()) this.add(record);
  }

  private onEvent(data: string): void {
    let record: Invocation;
    try {
      record = JSON.parse(data) as Invocation;
    } catch {
      return; // Not a record (the stream sends nothing else).
    }
    this.add(record);
  }

  private add(record: Invocation): void {
    if (!this.table.add(record, 'start')) return;
    this.table.updateEmptyState(anyFilter(this.filters()));
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
    this.status.textContent = `${n} new invocation${n === 1 ? '' : 's'} added at the top.`;
  }
}
