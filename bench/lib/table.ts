// Plain-text tables for the benchmark report: aligned columns, numbers right-aligned.
import type { Spread } from './stats.js';

export type Align = 'left' | 'right';

export interface Column {
  title: string;
  align?: Align;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number): string => {
    const w = widths[i] ?? text.length;
    return columns[i]?.align === 'right' ? text.padStart(w) : text.padEnd(w);
  };
  const line = (cells: readonly string[]): string => `| ${columns.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (columns[i]?.align === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(columns.map((c) => c.title)), rule, ...rows.map(line)].join('\n');
}

/** `4.12 (3.90-4.31)`: the median of the runs and, when there was more than one run, the best and worst. */
export function formatSpread(s: Spread, digits = 2, runs = 2): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  return runs > 1 ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : f(s.median);
}

export function formatNumber(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}
