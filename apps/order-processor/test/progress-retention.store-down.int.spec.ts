import { contractsSerializer } from '@causeway/contracts';
import { mongoConnection, MongoEventStore } from '@causeway/cqrs-core/mongodb';
import { removeNamespaceData, testNamespace } from '@causeway/testkit';
import { Registry } from 'prom-client';
import { ProgressRetentionJob } from '../src/retention/progress-retention.job';
import { RetentionMetrics } from '../src/retention/retention.metrics';
import { retentionReport } from '../src/retention/retention.report';
import { InMemoryTaskExpiries } from '../src/retention/task-expiries';
import { expirerOf } from './retention.expirer';

const ns = testNamespace('opstoredown');
const DAY = 86_400_000;
const DUE = 40;

// A review (session 43): with the event store down, every due task failed alike and each was
// logged on its own line at every run (hundreds of identical warnings a minute), while the
// run's `failed` and `skipped` figures reached no metric an operator could alert on.
describe('order-processor retention while its event store is down', () => {
  const mongo = mongoConnection({ uri: ns.mongoUri(), serverSelectionTimeoutMs: 10_000 });

  afterAll(async () => {
    await mongo.close();
    await removeNamespaceData(ns, ['mongodb']);
  }, 60_000);

  it('warns once per run with the count and the error, and counts the failed tasks', async () => {
    await mongo.open();
    const store = new MongoEventStore({
      connection: mongo.client,
      serializer: contractsSerializer(),
    });
    await store.init();
    // Down from here: every read of a task's stream fails.
    await mongo.close();

    let clock = Date.now();
    const expiries = new InMemoryTaskExpiries();
    const old = clock - 2 * DAY;
    for (let i = 0; i < DUE; i++) await expiries.touch(`t-${String(i).padStart(2, '0')}`, old + i);
    const lines: { level: 'log' | 'warn'; message: string }[] = [];
    const logger = {
      log: (message: string) => void lines.push({ level: 'log', message }),
      warn: (message: string) => void lines.push({ level: 'warn', message }),
    };
    const registry = new Registry();
    const job = new ProgressRetentionJob({
      store,
      expiries,
      expirer: expirerOf(store),
      ttlMs: DAY,
      intervalMs: 60_000,
      now: () => clock,
      ...retentionReport({ logger, metrics: new RetentionMetrics(registry) }),
    });

    for (let run = 1; run <= 2; run++) {
      lines.length = 0;
      expect(await job.runOnce()).toMatchObject({ failed: DUE, deleted: 0, expired: 0 });
      expect(lines).toHaveLength(1);
      expect(lines[0]!.level).toBe('warn');
      expect(lines[0]!.message).toMatch(
        new RegExp(
          `^retention could not retire ${DUE} task\\(s\\) this run; each is tried again at a later run: ` +
            `.+ \\(${DUE} task\\(s\\): t-00, t-01, t-02, t-03, t-04, …\\)$`,
        ),
      );
      // Each is due again at the run one interval later.
      clock += 60_000;
    }
    const metrics = await registry.getMetricsAsJSON();
    const tasks = metrics.find((m) => m.name === 'causeway_order_retention_tasks_total');
    expect(
      Object.fromEntries(tasks!.values.map(({ labels, value }) => [labels.outcome, value])),
    ).toEqual({ deleted: 0, expired: 0, failed: 2 * DUE, skipped: 0 });
  }, 60_000);
});
