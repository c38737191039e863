// The run log's Activity section: invocations/failures and p50/p99 latency
// over a chosen period, from the summary route. Live follow keeps it fresh.
import { api } from '../api';
import { h, replace, uid } from '../dom';
import type { Summary } from '../model';
import { periodOf, SUMMARY_PERIODS, summaryCharts, summaryQuery } from '../summary';
import { describe as message } from '../ui';

/** How often the charts reload while live follow is on (the live help text says 30 seconds). */
const CHART_REFRESH_MS = 30_000;

export class RunCharts {
  readonly section: HTMLElement;
  private readonly periodSelect = h(
    'select',
    { id: uid('period') },
    ...SUMMARY_PERIODS.map((p) => h('option', { value: String(p.minutes), selected: p.minutes === 60 }, p.label)),
  );
  private readonly charts = h('div', { class: 'chart-grid' });
  private readonly status = h('p', { role: 'status', class: 'status' });
  private timer: number | undefined;
  /** Set when the page goes away, so a late answer does not touch the detached DOM. */
  private stopped = false;

  /** `summaryPath`: the summary route under /admin/v1, without its query. */
  constructor(private readonly summaryPath: string) {
    const heading = uid('charts');
    this.section = h(
      'section',
      { 'aria-labelledby': heading, class: 'panel' },
      h('h2', { id: heading }, 'Activity'),
      h('div', { class: 'field inline' }, h('label', { for: this.periodSelect.id }, 'Period'), this.periodSelect),
      this.status,
      this.charts,
    );
    this.periodSelect.addEventListener('change', () => void this.load());
  }

  /** Reloads now and, while `on`, every CHART_REFRESH_MS. */
  follow(on: boolean): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    if (!on) return;
    this.timer = window.setInterval(() => void this.load(), CHART_REFRESH_MS);
    void this.load();
  }

  stop(): void {
    this.stopped = true;
    window.clearInterval(this.timer);
  }

  async load(): Promise<void> {
    const period = periodOf(this.periodSelect.value);
    let summary: Summary;
    try {
      summary = await api<Summary>('GET', `${this.summaryPath}?${summaryQuery(period)}`);
    } catch (err) {
      if (!this.stopped) this.status.textContent = `Charts unavailable: ${message(err)}`;
      return;
    }
    if (this.stopped) return;
    this.status.textContent = summary.truncated
      ? 'This period had more invocations than one summary reads: its oldest buckets undercount.'
      : '';
    replace(this.charts, ...summaryCharts(summary, period));
  }
}
