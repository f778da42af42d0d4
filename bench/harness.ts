/**
 * A small benchmark harness. Times on shared machines drift, so every suite reports ratios between
 * rows measured in the same run, side by side, and each row is the median of several rounds.
 */

export interface Row {
  name: string;
  /** Nanoseconds per operation (median of rounds), or a figure in `unit`. */
  value: number;
  unit: string;
  /** Free text after the figure: a ratio, a target and whether it is met. */
  note?: string;
}

const sink: unknown[] = [];
/** Keeps a result alive so the optimiser cannot drop the work that made it. */
export function consume(value: unknown): void {
  sink[0] = value;
}

/**
 * Nanoseconds per call of `body`, which runs `ops` operations per call. The median of `rounds`
 * rounds, after a warm-up round.
 */
export function timeNs(body: () => void, ops: number, rounds = 7): number {
  body();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    body();
    times.push(Number(process.hrtime.bigint() - start) / ops);
  }
  return median(times);
}

/** As {@link timeNs}, for an async body: nanoseconds per operation, median of rounds. */
export async function timeNsAsync(body: () => Promise<void>, ops: number, rounds = 5): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await body();
    times.push(Number(process.hrtime.bigint() - start) / ops);
  }
  return median(times);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** A full garbage collection (needs --expose-gc). */
export function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('benchmarks need node --expose-gc');
  gc();
  gc();
}

/** Heap bytes per object: `make(count)` builds and returns `count` live objects. Needs --expose-gc. */
export function heapBytesPer(make: (count: number) => unknown, count: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('heapBytesPer needs node --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make(count);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  consume(kept);
  return (after - before) / count;
}

/** `ours / theirs` as text, with whether it meets `target` (ours must be <= target x theirs). */
export function ratio(ours: number, theirs: number, target?: number): string {
  const r = ours / theirs;
  const text = `${r.toFixed(2)}x`;
  if (target === undefined) return text;
  return `${text} (target <= ${target}x: ${r <= target ? 'met' : 'NOT met'})`;
}

/** `theirs / ours`: how many times faster ours is, with whether it meets `target` (>= target). */
export function speedup(ours: number, theirs: number, target?: number): string {
  const r = theirs / ours;
  const text = `${r >= 100 ? r.toFixed(0) : r.toFixed(1)}x faster`;
  if (target === undefined) return text;
  return `${text} (target >= ${target}x: ${r >= target ? 'met' : 'NOT met'})`;
}

export function formatValue(row: Row): string {
  if (row.unit !== 'ns') return `${row.value.toFixed(1)} ${row.unit}`;
  if (row.value >= 1e6) return `${(row.value / 1e6).toFixed(2)} ms`;
  if (row.value >= 1e3) return `${(row.value / 1e3).toFixed(2)} µs`;
  return `${row.value.toFixed(1)} ns`;
}

/** Prints a suite as a Markdown table, ready to paste into docs/performance.md. */
export function printTable(title: string, rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r.name.length), 4);
  console.log(`\n### ${title}\n`);
  console.log(`| ${'case'.padEnd(width)} | per op | note |`);
  console.log(`| ${'-'.repeat(width)} | ---: | --- |`);
  for (const row of rows) console.log(`| ${row.name.padEnd(width)} | ${formatValue(row)} | ${row.note ?? ''} |`);
}
