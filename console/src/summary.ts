// The invocation summary (`…/invocations/summary`) as the console charts it:
// the periods offered and the two charts drawn from one answer. Run logs
// (one tenant) and the operator's Server page (every tenant) share these,
// so both offer the same periods and draw the same way.
import { barChart, lineChart } from './chart';
import type { Summary } from './model';

export interface SummaryPeriod {
  minutes: number;
  buckets: number;
  label: string;
}

/** Chart periods: minutes and how many buckets to split them in. */
export const SUMMARY_PERIODS: SummaryPeriod[] = [
  { minutes: 15, buckets: 15, label: 'Last 15 minutes' },
  { minutes: 60, buckets: 30, label: 'Last hour' },
  { minutes: 1440, buckets: 48, label: 'Last 24 hours' },
];

/** The period a select's value names (the last hour when it names none). */
export function periodOf(value: string): SummaryPeriod {
  return SUMMARY_PERIODS.find((p) => String(p.minutes) === value) ?? SUMMARY_PERIODS[1];
}

/** The summary route's query for a period. */
export function summaryQuery(period: SummaryPeriod): string {
  return `minutes=${period.minutes}&buckets=${period.buckets}`;
}

/**
 * Invocations/failures as bars and p50/p99 latency as lines. `scope` goes
 * into the titles after the first words ("all tenants, "), '' for none.
 */
export function summaryCharts(summary: Summary, period: SummaryPeriod, scope = ''): [HTMLElement, HTMLElement] {
  const at = (start: string) => new Date(start);
  const lower = period.label.toLowerCase();
  return [
    barChart({
      title: `Invocations and failures, ${scope}${lower}`,
      unit: 'invocations',
      series: [
        { name: 'Invocations', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.invocations })) },
        { name: 'Failures', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.failures })) },
      ],
    }),
    lineChart({
      title: `Latency p50 and p99, ${scope}${lower}`,
      unit: 'ms',
      series: [
        { name: 'p50', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p50Ms })) },
        { name: 'p99', points: summary.buckets.map((b) => ({ t: at(b.start), v: b.p99Ms })) },
      ],
    }),
  ];
}
