// Run logs: the tenant's invocations, filtered and paged, with a detail view
// per record, a live-follow mode on the server-sent event stream, and charts
// of the recent past (invocations, failures, p50/p99 latency). This module
// lays the page out and owns the paging; the parts live in ../runs/.
import { api, seg } from '../api';
import { h, replace } from '../dom';
import type { Invocation } from '../model';
import { RunCharts } from '../runs/charts';
import { anyFilter, FilterForm, listQuery, NO_FILTERS, type Filters } from '../runs/filters';
import { LiveFollow } from '../runs/live';
import { InvocationTable } from '../runs/table';
import type { Ctx, Mount } from '../types';
import { describe as message, pageHeading } from '../ui';

export const mount: Mount = (root, ctx) => {
  const page = new RunsPage(root, ctx);
  page.start();
  return () => page.stop();
};

class RunsPage {
  /** The invocations route under /admin/v1. */
  private readonly base: string;
  private filters: Filters = NO_FILTERS;
  /** The list's cursor for "Load older"; undefined on the last page. */
  private next: string | undefined;
  /** Set when the page goes away, so late answers leave the detached DOM alone. */
  private stopped = false;
  private readonly charts: RunCharts;
  private readonly form: FilterForm;
  private readonly table: InvocationTable;
  private readonly live: LiveFollow;

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: Ctx,
  ) {
    this.base = `/tenants/${seg(ctx.tenant)}/invocations`;
    this.charts = new RunCharts(`${this.base}/summary`);
    this.form = new FilterForm((filters) => this.applyFilters(filters));
    this.table = new InvocationTable(this.base, ctx.tenant, () => void this.loadPage(true));
    this.live = new LiveFollow(this.base, () => this.filters, this.table, this.charts);
  }

  start(): void {
    replace(
      this.root,
      pageHeading('Run logs'),
      h('p', { class: 'lede' }, 'Every invocation of your actions and provider: when it ran, how it ended and how long it took.'),
      this.charts.section,
      this.form.element,
      this.live.element,
      this.table.section,
    );
    void this.form.loadActions(this.ctx.tenant);
    void this.loadPage(false);
    void this.charts.load();
  }

  stop(): void {
    this.stopped = true;
    this.live.stop();
    this.charts.stop();
  }

  private applyFilters(filters: Filters): void {
    this.filters = filters;
    void this.loadPage(false);
    this.live.filtersChanged();
  }

  /** The first page for the current filters, or (`older`) the page after the last one shown. */
  private async loadPage(older: boolean): Promise<void> {
    this.form.error.textContent = '';
    this.table.setStatus(older ? 'Loading older invocations…' : 'Loading invocations…');
    let page: { invocations: Invocation[]; next?: string };
    try {
      page = await api('GET', `${this.base}?${listQuery(this.filters, older ? this.next : undefined)}`);
    } catch (err) {
      if (this.stopped) return;
      this.table.setStatus('');
      // A bad filter is a 400 naming the parameter: show it by the form.
      this.form.error.textContent = message(err);
      return;
    }
    if (this.stopped) return;
    if (!older) this.table.clear();
    for (const record of page.invocations) this.table.add(record, 'end');
    this.next = page.next;
    this.table.setHasOlder(!!page.next);
    const count = this.table.size;
    this.table.setStatus(
      older
        ? `${page.invocations.length} older invocations loaded; ${count} shown.`
        : `${count} invocation${count === 1 ? '' : 's'} shown${page.next ? ', older ones can be loaded' : ''}.`,
    );
    this.table.updateEmptyState(anyFilter(this.filters));
  }
}
