import { describeNotificationLog, testNotification } from '../testing';
import { InMemoryNotificationLog } from './in-memory.notification-log';

describeNotificationLog(
  'in-memory',
  { trimSlack: 0 },
  async (options) => new InMemoryNotificationLog(options),
);

describe('in-memory notification log: a follower whose onEntries throws', () => {
  it('tells onFollowError, then goes on', async () => {
    const errors: string[] = [];
    const log = new InMemoryNotificationLog({
      onFollowError: (error) => errors.push(error.message),
    });
    const seen: string[] = [];
    const controller = new AbortController();
    let calls = 0;
    const following = log.follow(
      '0-0',
      (entries) => {
        calls += 1;
        if (calls === 1) throw new Error('a bug in onEntries');
        seen.push(...entries.map((entry) => entry.id));
      },
      controller.signal,
    );
    await log.append(testNotification());
    while (calls === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const next = await log.append(testNotification());
    while (!seen.includes(next)) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(errors).toEqual([expect.stringMatching(/\): a bug in onEntries$/)]);
    controller.abort();
    await expect(following).resolves.toBeUndefined();
    await log.close();
  });
});
