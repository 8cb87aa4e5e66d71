import { RedisNotificationLog } from '@causeway/platform';
import { testNotification } from '@causeway/platform/testing';
import { testNamespace } from '@causeway/testkit';
import { namespaceRedis } from './namespace-redis.fixture';
import { until } from './sse.client';
import { followErrorWarning } from '../src/app.module';

/*
 * What the gateway logs of its notification log follower's failures (the warn lines
 * docs/operations.md names), over a real Redis: a read Redis refuses, and a batch read but not
 * sent to the streams. The second was logged as `notification log read failed`, sending an
 * operator to look at Redis for a fault of the gateway's (session 48).
 */
describe("the gateway's warnings of its notification log follower", () => {
  const ns = testNamespace('followerr');
  const redis = namespaceRedis(ns);
  const followers: { controller: AbortController; following: Promise<void> }[] = [];

  afterEach(async () => {
    for (const { controller } of followers) controller.abort();
    await Promise.all(followers.splice(0).map(({ following }) => following));
  });

  /** A follower of a log under `name`, whose warnings are returned; `onEntries` gets its batches. */
  function follow(name: string, onEntries: () => void) {
    const warnings: string[] = [];
    const log = new RedisNotificationLog({
      client: redis,
      keyPrefix: `${ns.keyPrefix}${name}:`,
      blockMs: 200,
      onFollowError: followErrorWarning((message) => warnings.push(message)),
    });
    const controller = new AbortController();
    followers.push({ controller, following: log.follow('0-0', onEntries, controller.signal) });
    return { log, warnings };
  }

  it('tells a batch the gateway failed to send from a failed read, once while it repeats', async () => {
    let calls = 0;
    const { log, warnings } = follow('delivery', () => {
      calls += 1;
      throw new Error('a bug in the fan-out');
    });
    const first = await log.append(testNotification());
    await until(() => warnings.length > 0, 'the first warning');
    expect(warnings).toEqual([
      `notification delivery failed (read from the log, not sent to the streams; passed over): onEntries failed on 1 notification(s) (${first}): a bug in the fan-out`,
    ]);
    // The same fault on the next batch: not logged again within the minute.
    await log.append(testNotification());
    await until(() => calls === 2, 'the next batch');
    expect(warnings).toHaveLength(1);
  });

  it('still names a read Redis refuses as a read failure', async () => {
    const keyPrefix = `${ns.keyPrefix}wrongtype:`;
    await redis.set(`${keyPrefix}notifications`, 'not a stream');
    const { warnings } = follow('wrongtype', () => undefined);
    await until(() => warnings.length > 0, 'the warning');
    expect(warnings[0]).toMatch(/^notification log read failed \(retrying\): WRONGTYPE/);
  });
});
