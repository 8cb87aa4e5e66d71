import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { aggregateLoadBench } from './aggregate-load.bench';
import { documentsBench } from './documents.bench';
import { eventStoreBench } from './event-store.bench';
import { liveBench } from './live.bench';
import { servers, type Servers } from './servers';
import { sseBench } from './sse.bench';
import { progress, type Report } from './stats';
import { transportBench } from './transport.bench';

/**
 * `npm run bench [-- suite…]`: runs the suites (all by default) against the local servers and
 * prints one markdown table per benchmark, every figure as a ratio to the raw client measured
 * in the same run. Writes everything to bench/results/<timestamp>.json.
 */
const SUITES: Record<string, (servers: Servers) => Promise<Report>> = {
  'event-store': eventStoreBench,
  'aggregate-load': aggregateLoadBench,
  documents: documentsBench,
  transport: transportBench,
  sse: sseBench,
  live: liveBench,
};

/** The whole run stops by itself even if a server hangs: ~8 minutes expected, 20 allowed. */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 20 * 60_000);

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  // `--list` (the package's test script, so CI runs it): every suite's module — and what it
  // pulls from the apps and packages' sources — loaded under tsx; the suites' names printed.
  if (args.includes('--list')) {
    process.stdout.write(`${Object.keys(SUITES).join('\n')}\n`);
    return;
  }
  const names = args;
  const unknown = names.filter((name) => !(name in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown suite(s) ${unknown.join(', ')}; choose from ${Object.keys(SUITES).join(', ')}\n`,
    );
    process.exit(2);
  }
  const selected = names.length > 0 ? names : Object.keys(SUITES);
  const deadline = setTimeout(() => {
    process.stderr.write(`bench: deadline of ${DEADLINE_MS} ms passed; stopping\n`);
    process.exit(3);
  }, DEADLINE_MS);
  deadline.unref();

  const target = servers();
  const started = new Date();
  process.stdout.write(
    `# Causeway benchmarks — ${started.toISOString()}\n\nNode ${process.version}, ${os.cpus().length} cores, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  );
  const results = [];
  for (const name of selected) {
    progress(`suite ${name}`);
    const report = await SUITES[name]!(target);
    results.push(report.result);
  }
  const dir = path.join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ startedAt: started.toISOString(), finishedAt: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg(), suites: results }, null, 2)}\n`,
  );
  process.stdout.write(`\nResults written to ${path.relative(process.cwd(), file)}\n`);
  clearTimeout(deadline);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
