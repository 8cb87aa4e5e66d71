/** Latency percentiles of a sample, in milliseconds. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export function percentiles(samplesMs: readonly number[]): Percentiles {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: sorted.at(-1) ?? 0 };
}

/** Runs `fn` and returns operations per second for `operations` operations. */
export async function throughput(operations: number, fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return operations / seconds;
}

/** Runs `count` async operations with at most `concurrency` in flight. */
export async function pool(
  count: number,
  concurrency: number,
  fn: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

export interface Row {
  benchmark: string;
  causeway: string;
  raw: string;
  ratio: number;
  /** The ratio as printed, when two decimals would not do (see {@link judgedRatio}). */
  ratioText?: string;
  target?: string;
}

/**
 * A ratio judged against a target, printed with as many decimals as the verdict needs: two,
 * unless rounding to two would cross the target (0.496 printed as 0.50 beside "≥ 0.5 MISSED");
 * then more, so that a row never contradicts itself. The verdict is on the unrounded value.
 */
export function judgedRatio(
  value: number,
  meets: (ratio: number) => boolean,
): { ratio: number; ratioText: string } {
  for (let digits = 2; digits <= 6; digits++) {
    const text = value.toFixed(digits);
    if (meets(Number(text)) === meets(value)) return { ratio: Number(text), ratioText: text };
  }
  return { ratio: value, ratioText: String(value) };
}

/** A ratio row: higher is better for throughput. */
export function ratioRow(
  benchmark: string,
  ours: number,
  raw: number,
  unit: string,
  target?: number,
): Row {
  const ratio = ours / raw;
  return {
    benchmark,
    causeway: `${format(ours)} ${unit}`,
    raw: `${format(raw)} ${unit}`,
    ...(target === undefined
      ? { ratio: Math.round(ratio * 100) / 100 }
      : {
          ...judgedRatio(ratio, (r) => r >= target),
          target: `≥ ${target} ${ratio >= target ? 'ok' : 'MISSED'}`,
        }),
  };
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

/** Column names of a table whose columns hold something else than the default's (see Row). */
export interface Columns {
  causeway: string;
  raw: string;
  ratio: string;
}

const DEFAULT_COLUMNS: Columns = { causeway: 'causeway', raw: 'raw client', ratio: 'ratio' };

export function printTable(
  title: string,
  rows: readonly Row[],
  columns: Columns = DEFAULT_COLUMNS,
): void {
  process.stdout.write(
    `\n## ${title}\n\n| benchmark | ${columns.causeway} | ${columns.raw} | ${columns.ratio} | target |\n|---|---:|---:|---:|---|\n`,
  );
  for (const row of rows) {
    process.stdout.write(
      `| ${row.benchmark} | ${row.causeway} | ${row.raw} | ${row.ratioText ?? row.ratio.toFixed(2)} | ${row.target ?? ''} |\n`,
    );
  }
}

export function printLatency(
  title: string,
  rows: readonly { benchmark: string; latency: Percentiles; target?: string }[],
): void {
  process.stdout.write(
    `\n## ${title}\n\n| benchmark | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | target |\n|---|---:|---:|---:|---:|---:|---|\n`,
  );
  for (const { benchmark, latency, target } of rows) {
    const f = (n: number) => n.toFixed(2);
    process.stdout.write(
      `| ${benchmark} | ${f(latency.p50)} | ${f(latency.p95)} | ${f(latency.p99)} | ${f(latency.p999)} | ${f(latency.max)} | ${target ?? ''} |\n`,
    );
  }
}

/** A latency row: percentiles against a target on p99 (and optional seed targets). */
export interface LatencyRow {
  benchmark: string;
  latency: Percentiles;
  target?: string;
}

/** `≤ limit ok` / `≤ limit MISSED` for a latency target in milliseconds. */
export function latencyTarget(label: string, actualMs: number, limitMs: number): string {
  return `${label} ≤ ${limitMs} ms ${actualMs <= limitMs ? 'ok' : 'MISSED'}`;
}

/** Milliseconds since `started` (a process.hrtime.bigint()). */
export function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Everything one suite measured, as printed and as written to bench/results/<timestamp>.json. */
export interface SuiteResult {
  suite: string;
  tables: { title: string; rows: Row[]; columns?: Columns }[];
  latencies: { title: string; rows: LatencyRow[] }[];
  notes: string[];
}

/** Collects a suite's tables and prints them as they complete. */
export class Report {
  readonly result: SuiteResult;

  constructor(suite: string) {
    this.result = { suite, tables: [], latencies: [], notes: [] };
  }

  /** `columns`: where the row's fields are not ours / the raw client's / their ratio. */
  table(title: string, rows: Row[], columns?: Columns): void {
    this.result.tables.push({ title, rows, ...(columns && { columns }) });
    printTable(title, rows, columns);
  }

  latency(title: string, rows: LatencyRow[]): void {
    this.result.latencies.push({ title, rows });
    printLatency(title, rows);
  }

  note(text: string): void {
    this.result.notes.push(text);
    process.stdout.write(`\n> ${text}\n`);
  }
}

/** Progress on stderr, so the tables on stdout stay clean. */
export function progress(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

/**
 * Measures `raw` and `ours` twice each in the order raw, ours, ours, raw and averages each (drift
 * cancels). `once`: raw then ours only, for measurements too slow to repeat within the run's budget.
 */
export async function abba(
  raw: () => Promise<number>,
  ours: () => Promise<number>,
  once = false,
): Promise<{ raw: number; ours: number }> {
  const r1 = await raw();
  const o1 = await ours();
  if (once) return { raw: r1, ours: o1 };
  const o2 = await ours();
  const r2 = await raw();
  return { raw: (r1 + r2) / 2, ours: (o1 + o2) / 2 };
}
