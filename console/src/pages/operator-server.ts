// Server-wide activity for the operator: invocations, failures and p50/p99
// latency across every tenant (GET /admin/v1/invocations/summary), drawn by
// chart.ts and refreshed while the page is open.
import { api } from '../api';
import { append, h, replace } from '../dom';
import type { Summary } from '../model';
import { periodOf, SUMMARY_PERIODS, summaryCharts, summaryQuery } from '../summary';
import type { Ctx } from '../types';
import { describe, field, pageHeading, statusRegion } from '../ui';

const REFRESH_MS = 30_000;

export function mount(root: HTMLElement, _ctx: Ctx): () => void {
  let stopped = false;
  const period = h('select', { name: 'period' }, ...SUMMARY_PERIODS.map((p) => h('option', { value: String(p.minutes) }, p.label)));
  period.value = '60';
  const said = statusRegion();
  const charts = h('div', { class: 'chart-grid' }, h('p', { class: 'muted' }, 'Loading charts…'));
  const totals = h('div', {});

  const load = async () => {
    const chosen = periodOf(period.value);
    let summary: Summary;
    try {
      summary = await api<Summary>('GET', `/invocations/summary?${summaryQuery(chosen)}`);
    } catch (error) {
      if (!stopped) replace(said, `Charts unavailable: ${describe(error)}`);
      return;
    }
    if (stopped) return;
    // `truncated`: the summary read its cap of newest records (runner/src/http/invocation_summary.rs).
    replace(said, summary.truncated ? 'This period had more invocations than one summary reads: its oldest buckets undercount.' : '');
    const invocations = summary.buckets.reduce((sum, b) => sum + b.invocations, 0);
    const failures = summary.buckets.reduce((sum, b) => sum + b.failures, 0);
    replace(
      totals,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Invocations'),
        h('dd', {}, String(invocations)),
        h('dt', {}, 'Failures'),
        h('dd', {}, invocations ? `${failures} (${((failures / invocations) * 100).toFixed(1)}%)` : String(failures)),
      ),
    );
    replace(charts, ...summaryCharts(summary, chosen, 'all tenants, '));
  };

  period.addEventListener('change', () => void load());
  const timer = window.setInterval(() => void load(), REFRESH_MS);

  append(
    root,
    pageHeading('Server'),
    h('p', { class: 'lede' }, `Every tenant's invocations together. Refreshed every ${REFRESH_MS / 1000} seconds.`),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'activity-heading' },
      h('h2', { id: 'activity-heading' }, 'Activity'),
      field('Period', period),
      said,
      totals,
      charts,
    ),
  );
  void load();
  return () => {
    stopped = true;
    window.clearInterval(timer);
  };
}
