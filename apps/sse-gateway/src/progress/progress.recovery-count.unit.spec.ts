import { randomUUID } from 'node:crypto';
import { acceptedProgressStatus } from '@causeway/contracts';
import { InMemoryProgressStatuses } from '@causeway/platform';
import { progressView } from './progress.view';

// README, "Progress streams": on every (re)connect the all-tasks stream sends one
// `event: recovery` per task "for your 50 most recently updated tasks only, newest first" (a
// bound on what each reconnect sends); older ones are read with GET /api/v2/progress/user.
// It promised one per task, unbounded, while the view sent at most the statuses' default page.
describe('progress stream of all tasks: the recovery events a (re)connect opens with (README)', () => {
  it('sends one for each of the user’s 50 most recently updated tasks, newest first, of 60', async () => {
    const statuses = new InMemoryProgressStatuses({ ttlMs: 86_400_000 });
    const start = Date.now() - 60_000;
    const placed: string[] = [];
    for (let i = 0; i < 60; i++) {
      const taskId = randomUUID();
      placed.push(taskId);
      await statuses.apply(
        acceptedProgressStatus({
          taskId,
          userId: 'ash',
          placedAt: new Date(start + i * 100).toISOString(),
        }),
      );
    }
    const opening = await progressView(statuses, 'ash').opening!('1-0', 2_000);
    const recovered = [...opening.matchAll(/^event: recovery\nid: 1-0\ndata: (.*)$/gm)].map(
      ([, data]) => (JSON.parse(data!) as { taskId: string }).taskId,
    );
    expect(opening.match(/^event: recovery$/gm)).toHaveLength(50);
    expect(recovered).toEqual(placed.slice(10).reverse());
  });
});
