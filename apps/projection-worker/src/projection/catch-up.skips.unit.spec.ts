import { Registry } from 'prom-client';
import { reportSkips, SKIPPED_EVENTS } from './catch-up.skips';

describe('reportSkips', () => {
  it('counts each event given up on in the registry, once per registry', async () => {
    const registry = new Registry();
    const first = reportSkips(registry, 5);
    const second = reportSkips(registry, 5); // a second runner on the same registry
    const error = new Error('Invalid TrainerMovedEvent: position');
    first({ position: 7, streamId: 'trainer-gary', version: 1 }, error);
    second({ position: 9, streamId: 'trainer-misty', version: 3 }, error);
    const metric = await registry.getSingleMetric(SKIPPED_EVENTS)!.get();
    expect(metric.values.map((v) => v.value)).toEqual([2]);
  });
});
