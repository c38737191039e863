// Small dependency-free SVG charts for the run logs. Each chart is a
// <figure>: the picture for sighted users (series told apart by dash
// pattern, marker or hatching as well as color, with a legend), a one-
// sentence summary as the SVG's accessible name, and the same numbers in a
// visually hidden table for screen readers.
import { h, uid } from './dom';

export interface ChartPoint {
  t: Date;
  /** null: no value for this bucket (e.g. a latency when nothing ran). */
  v: number | null;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  series: ChartSeries[];
  /** Unit of the values, e.g. "ms" or "invocations". */
  unit: string;
  /** Shown instead of the chart when there is nothing to draw. */
  emptyText?: string;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 220;
const MARGIN = { top: 26, right: 16, bottom: 30, left: 52 };
const FONT_SIZE = 12;
/** Narrowest drawing width: below it the labels would collide. */
const MIN_WIDTH = 300;

/** Line/bar colors, each at least 4.5:1 against white (so also ≥ 3:1). */
const COLORS = ['#1a5fb4', '#a51d2d', '#26734d', '#613583'];
/** Dash patterns for lines, so series differ without color. */
const DASHES = ['', '7 4', '2 3', '10 3 2 3'];
type Marker = 'circle' | 'square' | 'triangle' | 'diamond';
const MARKERS: Marker[] = ['circle', 'square', 'triangle', 'diamond'];

type Kind = 'line' | 'bar';

/** A line chart, one line per series (gaps where a value is null). */
export function lineChart(opts: ChartOptions): HTMLElement {
  return chart('line', opts);
}

/** A bar chart, one bar per series in each time bucket, side by side. */
export function barChart(opts: ChartOptions): HTMLElement {
  return chart('bar', opts);
}

function chart(kind: Kind, opts: ChartOptions): HTMLElement {
  const figure = h('figure', { class: 'chart' }, h('figcaption', {}, opts.title));
  if (isEmpty(kind, opts.series)) {
    figure.append(h('p', { class: 'chart-empty' }, opts.emptyText ?? 'No invocations in this period'));
    return figure;
  }
  const summary = summarize(kind, opts);
  let drawnWidth = 640;
  let svg = draw(kind, opts, drawnWidth, summary);
  figure.append(svg, dataTable(opts));
  // Redraw at the container's real width, so text keeps its size on a phone
  // instead of shrinking with a fixed viewBox.
  if (typeof ResizeObserver !== 'undefined') {
    const observer = new ResizeObserver(() => {
      const width = Math.max(MIN_WIDTH, Math.round(figure.clientWidth));
      if (!figure.isConnected || Math.abs(width - drawnWidth) < 16) return;
      drawnWidth = width;
      const next = draw(kind, opts, width, summary);
      svg.replaceWith(next);
      svg = next;
    });
    observer.observe(figure);
  }
  return figure;
}

/** Bars of nothing but zeros, or lines of nothing but gaps, say nothing. */
function isEmpty(kind: Kind, series: ChartSeries[]): boolean {
  return !series.some((s) =>
    s.points.some((p) => p.v !== null && Number.isFinite(p.v) && (kind === 'line' || p.v !== 0)),
  );
}

function svgEl(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

function svgText(x: number, y: number, text: string, anchor: 'start' | 'middle' | 'end'): SVGElement {
  const el = svgEl('text', {
    x,
    y,
    'text-anchor': anchor,
    'font-size': FONT_SIZE,
    fill: 'currentColor',
  });
  el.textContent = text;
  return el;
}

/** Every bucket time across the series, in order. */
function times(series: ChartSeries[]): Date[] {
  const seen = new Map<number, Date>();
  for (const s of series) for (const p of s.points) seen.set(p.t.getTime(), p.t);
  return [...seen.values()].sort((a, b) => a.getTime() - b.getTime());
}

function maxValue(series: ChartSeries[]): number {
  let max = 0;
  for (const s of series) for (const p of s.points) if (p.v !== null && p.v > max) max = p.v;
  return max;
}

/** A "nice" axis top and step: 1, 2 or 5 times a power of ten, 4 steps or so. */
function niceScale(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return { top: Math.ceil(max / step) * step, step };
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

/** Hours and minutes; the date too when the span crosses midnight. */
function formatTime(t: Date, withDate: boolean): string {
  const time = t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return withDate ? `${t.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}` : time;
}

function spansDays(ts: Date[]): boolean {
  return ts.length > 1 && ts[0].toDateString() !== ts[ts.length - 1].toDateString();
}

function draw(kind: Kind, opts: ChartOptions, width: number, summary: string): SVGElement {
  const ts = times(opts.series);
  const { top, step } = niceScale(maxValue(opts.series));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const legendH = 22;
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${HEIGHT + legendH}`,
    width: '100%',
    role: 'img',
    'aria-label': summary,
    class: 'chart-svg',
  });
  const title = svgEl('title');
  title.textContent = opts.title;
  svg.append(title);

  const y = (v: number): number => MARGIN.top + plotH - (v / top) * plotH;
  // Bars sit inside their bucket's slot; line points at the slot's middle.
  const slot = plotW / Math.max(ts.length, 1);
  const x = (i: number): number => MARGIN.left + slot * (i + 0.5);

  drawYAxis(svg, top, step, y, width, opts.unit);
  drawXAxis(svg, ts, x, plotH, plotW);
  const patterns = svgEl('defs');
  svg.append(patterns);
  opts.series.forEach((s, index) => {
    const values = ts.map((t) => s.points.find((p) => p.t.getTime() === t.getTime())?.v ?? null);
    if (kind === 'line') drawLine(svg, values, index, x, y);
    else drawBars(svg, patterns, values, index, opts.series.length, slot, x, y);
  });
  drawLegend(svg, patterns, kind, opts.series, HEIGHT + 4);
  return svg;
}

function drawYAxis(
  svg: SVGElement,
  top: number,
  step: number,
  y: (v: number) => number,
  width: number,
  unit: string,
): void {
  for (let v = 0; v <= top + step / 2; v += step) {
    svg.append(
      svgEl('line', {
        x1: MARGIN.left,
        x2: width - MARGIN.right,
        y1: y(v),
        y2: y(v),
        stroke: v === 0 ? '#57606a' : '#d0d7de',
        'stroke-width': 1,
      }),
      svgText(MARGIN.left - 6, y(v) + FONT_SIZE / 3, formatNumber(v), 'end'),
    );
  }
  svg.append(svgText(4, FONT_SIZE, unit, 'start'));
}

function drawXAxis(svg: SVGElement, ts: Date[], x: (i: number) => number, plotH: number, plotW: number): void {
  if (ts.length === 0) return;
  const withDate = spansDays(ts);
  // As many labels as fit without touching (a label is about 70-110 units wide).
  const room = Math.floor(plotW / (withDate ? 140 : 85));
  const labels = Math.min(5, ts.length, Math.max(2, room));
  const baseline = MARGIN.top + plotH;
  const seen = new Set<number>();
  for (let k = 0; k < labels; k++) {
    const i = labels === 1 ? 0 : Math.round((k * (ts.length - 1)) / (labels - 1));
    if (seen.has(i)) continue;
    seen.add(i);
    const anchor = k === 0 ? 'start' : k === labels - 1 ? 'end' : 'middle';
    svg.append(
      svgEl('line', { x1: x(i), x2: x(i), y1: baseline, y2: baseline + 4, stroke: '#57606a' }),
      svgText(x(i), baseline + 6 + FONT_SIZE, formatTime(ts[i], withDate), anchor),
    );
  }
}

function drawLine(
  svg: SVGElement,
  values: (number | null)[],
  index: number,
  x: (i: number) => number,
  y: (v: number) => number,
): void {
  const color = COLORS[index % COLORS.length];
  // A null breaks the line: a gap says "no data", unlike a drop to zero.
  let d = '';
  let penDown = false;
  values.forEach((v, i) => {
    if (v === null) {
      penDown = false;
      return;
    }
    d += `${penDown ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    penDown = true;
  });
  const path = svgEl('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 });
  const dash = DASHES[index % DASHES.length];
  if (dash) path.setAttribute('stroke-dasharray', dash);
  svg.append(path);
  values.forEach((v, i) => {
    if (v !== null) svg.append(marker(MARKERS[index % MARKERS.length], x(i), y(v), color));
  });
}

function marker(shape: Marker, cx: number, cy: number, color: string): SVGElement {
  const r = 3.5;
  const common = { fill: color, stroke: '#ffffff', 'stroke-width': 1 };
  switch (shape) {
    case 'circle':
      return svgEl('circle', { cx, cy, r, ...common });
    case 'square':
      return svgEl('rect', { x: cx - r, y: cy - r, width: 2 * r, height: 2 * r, ...common });
    case 'triangle':
      return svgEl('path', { d: `M${cx},${cy - r - 1}L${cx + r + 1},${cy + r}L${cx - r - 1},${cy + r}Z`, ...common });
    case 'diamond':
      return svgEl('path', { d: `M${cx},${cy - r - 1}L${cx + r + 1},${cy}L${cx},${cy + r + 1}L${cx - r - 1},${cy}Z`, ...common });
  }
}

/** Series 0 solid; the others hatched in their color, so bars differ without color. */
function barFill(defs: SVGElement, index: number): string {
  const color = COLORS[index % COLORS.length];
  if (index === 0) return color;
  const id = uid('hatch');
  const pattern = svgEl('pattern', {
    id,
    width: 5,
    height: 5,
    patternUnits: 'userSpaceOnUse',
    patternTransform: `rotate(${index % 2 === 1 ? 45 : -45})`,
  });
  pattern.append(
    svgEl('rect', { width: 5, height: 5, fill: '#ffffff' }),
    svgEl('line', { x1: 0, y1: 0, x2: 0, y2: 5, stroke: color, 'stroke-width': 3 }),
  );
  defs.append(pattern);
  return `url(#${id})`;
}

function drawBars(
  svg: SVGElement,
  defs: SVGElement,
  values: (number | null)[],
  index: number,
  count: number,
  slot: number,
  x: (i: number) => number,
  y: (v: number) => number,
): void {
  const color = COLORS[index % COLORS.length];
  const fill = barFill(defs, index);
  const group = slot * 0.8;
  const barW = Math.max(1, group / count);
  values.forEach((v, i) => {
    if (v === null || v === 0) return;
    const left = x(i) - group / 2 + index * barW;
    svg.append(
      svgEl('rect', {
        x: left.toFixed(1),
        y: y(v).toFixed(1),
        width: barW.toFixed(1),
        height: (y(0) - y(v)).toFixed(1),
        fill,
        stroke: color,
        'stroke-width': 1,
      }),
    );
  });
}

function drawLegend(svg: SVGElement, defs: SVGElement, kind: Kind, series: ChartSeries[], top: number): void {
  let left = MARGIN.left;
  series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    if (kind === 'line') {
      const line = svgEl('line', {
        x1: left,
        x2: left + 24,
        y1: top + 8,
        y2: top + 8,
        stroke: color,
        'stroke-width': 2,
      });
      const dash = DASHES[index % DASHES.length];
      if (dash) line.setAttribute('stroke-dasharray', dash);
      svg.append(line, marker(MARKERS[index % MARKERS.length], left + 12, top + 8, color));
    } else {
      svg.append(
        svgEl('rect', { x: left, y: top + 2, width: 24, height: 12, fill: barFill(defs, index), stroke: color }),
      );
    }
    svg.append(svgText(left + 30, top + 8 + FONT_SIZE / 3, s.name, 'start'));
    left += 30 + s.name.length * FONT_SIZE * 0.6 + 24;
  });
}

/** The one-sentence accessible name: each series' total or range and its peak. */
function summarize(kind: Kind, opts: ChartOptions): string {
  const ts = times(opts.series);
  const span =
    ts.length > 1
      ? ` from ${formatTime(ts[0], spansDays(ts))} to ${formatTime(ts[ts.length - 1], spansDays(ts))}`
      : '';
  const parts = opts.series.map((s) => {
    const known = s.points.filter((p): p is { t: Date; v: number } => p.v !== null);
    if (known.length === 0) return `${s.name}: no data`;
    const peak = known.reduce((a, b) => (b.v > a.v ? b : a));
    const peakText = `peak ${formatNumber(peak.v)} ${opts.unit} at ${formatTime(peak.t, spansDays(ts))}`;
    if (kind === 'bar') {
      const total = known.reduce((sum, p) => sum + p.v, 0);
      return `${s.name}: ${formatNumber(total)} ${opts.unit} in all, ${peakText}`;
    }
    const low = Math.min(...known.map((p) => p.v));
    return `${s.name}: ${formatNumber(low)} to ${formatNumber(peak.v)} ${opts.unit}, ${peakText}`;
  });
  return `${opts.title}${span}. ${parts.join('; ')}.`;
}

/** The chart's numbers as a table, for screen readers only. */
function dataTable(opts: ChartOptions): HTMLElement {
  const ts = times(opts.series);
  const withDate = spansDays(ts);
  // The wrapper, not the table, is visually hidden: a table will not shrink
  // to 1px and would widen the page on a phone.
  const table = h(
    'table',
    {},
    h('caption', {}, `${opts.title} (data)`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Time'),
        ...opts.series.map((s) => h('th', { scope: 'col' }, `${s.name} (${opts.unit})`)),
      ),
    ),
    h(
      'tbody',
      {},
      ...ts.map((t) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, formatTime(t, withDate)),
          ...opts.series.map((s) => {
            const v = s.points.find((p) => p.t.getTime() === t.getTime())?.v ?? null;
            return h('td', {}, v === null ? 'no data' : formatNumber(v));
          }),
        ),
      ),
    ),
  );
  return h('div', { class: 'sr-only' }, table);
}
