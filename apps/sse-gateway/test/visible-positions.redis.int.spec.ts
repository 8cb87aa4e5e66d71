import { MessageFactory } from '@causeway/cqrs-core';
import { type TrainerMovedEvent } from '@causeway/contracts';
import {
  positionRow,
  RedisGroupMembers,
  RedisNotificationLog,
  RedisTrainerPositions,
} from '@causeway/platform';
import { testNamespace } from '@causeway/testkit';
import { namespaceRedis } from './namespace-redis.fixture';
import { visiblePositions } from '../src/sse/visible-positions';

// The read models in a real Redis that lost them (FLUSHALL, a restart without persistence, a DEL
// of their keys) while live moves keep coming: until projection-worker rebuilt the memberships,
// the rows are all the gateway knows of who is in a group.
describe('visiblePositions on Redis read models that lost the memberships', () => {
  const ns = testNamespace('visible');
  const keyPrefix = `${ns.keyPrefix}lost:`;
  const factory = new MessageFactory();
  const redis = namespaceRedis(ns);

  const moved = (trainerId: string, groups?: string[]): TrainerMovedEvent =>
    factory.event('TrainerMovedEvent', {
      trainerId,
      position: { x: 1, y: 2 },
      movement: { isMoving: false, direction: { x: 0, y: 0 }, speed: 0, startedAt: 0 },
      timestamp: 1_700_000_000_000,
      ...(groups && { groups }),
    }).data as TrainerMovedEvent;

  it('shows a trainer moving in a group to no outsider, and gives clients no groups', async () => {
    const positions = new RedisTrainerPositions({ client: redis, keyPrefix });
    const groups = new RedisGroupMembers({ client: redis, keyPrefix });
    const log = new RedisNotificationLog({ client: redis, keyPrefix, blockMs: 200 });
    await groups.apply({ trainerId: 'misty', groupId: 'kanto', action: 'join', version: 1 });
    await groups.apply({ trainerId: 'ash', groupId: 'kanto', action: 'join', version: 1 });
    const ids = async (userId: string) =>
      (await visiblePositions({ userId, trainerIds: [] }, positions, groups, log, 0)).map(
        (position) => position.trainerId,
      );

    // Redis loses the read models; live moves (projection-worker) write rows again at once.
    await redis.unlink(...(await redis.keys(`${keyPrefix}read-models:*`)));
    expect(await groups.groupsOf('misty')).toEqual([]);
    await positions.apply(positionRow(moved('misty', ['kanto']), 2));
    await positions.apply(positionRow(moved('gary'), 1));

    expect(await ids('outsider')).toEqual(['gary']);
    expect(await ids('misty')).toEqual(['gary', 'misty']);
    const [gary, misty] = await visiblePositions(
      { userId: 'misty', trainerIds: [] },
      positions,
      groups,
      log,
      0,
    );
    expect(misty).toMatchObject({ trainerId: 'misty', version: 2 });
    expect(misty).not.toHaveProperty('groups');
    expect(gary).not.toHaveProperty('groups');

    // Once the memberships are rebuilt, the group sees her again; outsiders still do not.
    await groups.apply({ trainerId: 'misty', groupId: 'kanto', action: 'join', version: 1 });
    await groups.apply({ trainerId: 'ash', groupId: 'kanto', action: 'join', version: 1 });
    expect(await ids('ash')).toEqual(['gary', 'misty']);
    expect(await ids('outsider')).toEqual(['gary']);
  });
});
