// Server-wide activity for the operator: invocations, failures and p50/p99
// latency across every tenant (GET /admin/v1/invocations/summary), drawn by
// chart.ts and refreshed while the page is open.
import { api } from '../api';
import { barChart, lineChart } from '../chart';
import { append, h, replace } from '../dom';
import type { Summary } from '../model';
import type { Ctx } from '../types';
import { describe, field, pageHeading, statusRegion } from '../ui';

const PERIODS = [
  { minutes: 15, buckets: 15, label: 'Last 15 minutes' },
  { minutes: 60, buckets: 30, label: 'Last hour' },
  { minutes: 1440, buckets: 48, label: 'Last 24 hours' },
];
const REFRESH_MS = 30_000;

export function mount(root: HTMLElement, _ctx: Ctx): () => void {
  let stopped = false;
  const period = h('select', { name: 'period' }, ...PERIODS.map((p) => h('option', { value: String(p.minutes) }, p.label)));
  period.value = '60';
  const said = statusRegion();
  const charts = h('div', { class: 'chart-grid' }, h('p', { class: 'muted' }, 'Loading charts…'));
  const totals = h('div', {});

  const load = async () => {
    const chosen = PERIODS.find((p) => String(p.minutes) === period.value) ?? PERIODS[1];
    let summary: Summary;
    try {
      summary = await api<Summary>('GET', `/invocations/summary?minutes=${chosen.minutes}&buckets=${chosen.buckets}`);
    } catch (error) {
      if (!stopped) replace(said, `Charts unavailable: ${describe(error)}`);
      return;
    }
    if (stopped) return;
    replace(said, summary.truncated ? 'Older records of this period are no longer kept, so its start may be missing.' : '');
    const at = (start: string) => new Date(start);
    const lower = chosen.label.toLowerCase();
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
    replace(
      charts,
      barChart({
        title: `Invocations and failures, all tenants, ${lower}`,
        unit: 'invocations',
        series: [
          { name: 'Invocations', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.invocations })) },
          { name: 'Failures', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.failures })) },
        ],
      }),
      lineChart({
        title: `Latency p50 and p99, all tenants, ${lower}`,
        unit: 'ms',
        series: [
          { name: 'p50', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p50Ms })) },
          { name: 'p99', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p99Ms })) },
        ],
      }),
    );
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
