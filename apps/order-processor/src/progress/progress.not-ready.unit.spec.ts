import { contractsSerializer } from '@causeway/contracts';
import { InMemoryEventStore } from '@causeway/cqrs-core';
import { ProblemException } from '@causeway/cqrs-core/nest';
import { InMemoryProgressStatuses, TokenService } from '@causeway/platform';
import { Registry } from 'prom-client';
import { type OrderConsumer } from '../orders/order.consumer';
import { OrderMetrics } from '../orders/order.metrics';
import { ProgressAuth } from './progress.auth';
import { ProgressController } from './progress.controller';
import { ProgressReads } from './progress.reads';

/**
 * The stores failing to initialise (MongoDB refusing the event store's indexes, a connection
 * cut mid-way): the driver's message names hosts, databases and commands — the operators'
 * (readiness reports it), not every caller's.
 */
describe('progress reads while the stores cannot be initialised', () => {
  const secret = 'a-test-secret-that-is-long-enough-123';
  const tokens = new TokenService({ secret });
  const internal =
    'connection 7 to 10.0.3.7:27017 closed; not authorized on causeway_prod to execute command { createIndexes: "progress_commits" }';

  function controller(): ProgressController {
    return new ProgressController(
      new ProgressAuth(tokens, {}),
      // The reads of this test never reach the consumer (only /monitor does).
      undefined as unknown as OrderConsumer,
      {
        reads: new ProgressReads(
          new InMemoryEventStore({ serializer: contractsSerializer() }),
          new InMemoryProgressStatuses({ ttlMs: 86_400_000 }),
        ),
        metrics: new OrderMetrics(new Registry()),
        instanceId: 'op-1',
        topic: 'order-events-v2',
        ready: () => Promise.reject(new Error(internal)),
        running: () => 0,
      },
    );
  }

  it('answers 503 not-ready without the store error, to status, history and user reads', async () => {
    const { token } = await tokens.issue('ash');
    const request = { headers: { authorization: `Bearer ${token}` }, socket: {} };
    const reads = controller();
    for (const read of [
      () => reads.status('t-1', request),
      () => reads.history('t-1', request),
      () => reads.user('ash', {}, request),
    ]) {
      const error = await read().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(ProblemException);
      const problem = (error as ProblemException).getResponse() as Record<string, unknown>;
      expect(problem).toMatchObject({ status: 503, type: expect.stringMatching(/not-ready$/) });
      expect(problem.detail).toContain('progress store');
      expect(JSON.stringify(problem)).not.toMatch(/10\.0\.3\.7|causeway_prod|createIndexes/);
    }
  });
});
