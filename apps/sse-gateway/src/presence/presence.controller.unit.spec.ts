import { get, type GatewayTestApp, startGatewayTestApp } from '../testing/gateway.test-app';

/**
 * GET /api/presence shows a user themselves and the members of their groups. Group members are
 * trainers: a user is in a group through their own trainer and through the trainers their token
 * lets them move.
 */
describe('GET /api/presence', () => {
  let app: GatewayTestApp;
  beforeAll(async () => {
    app = await startGatewayTestApp();
  });
  afterAll(() => app.close());

  it('shows the members of the groups of the trainers a token lets its user move', async () => {
    // onix and misty are in the group rock; trainerboss may move onix; gary is in no group.
    await app.groups.apply({ trainerId: 'onix', groupId: 'rock', action: 'join', version: 1 });
    await app.groups.apply({ trainerId: 'misty', groupId: 'rock', action: 'join', version: 1 });
    const boss = `Bearer ${(await app.tokens.issue('trainerboss', { trainerIds: ['onix'] })).token}`;
    const controller = new AbortController();
    const streams = await Promise.all(
      [await app.bearer('misty'), await app.bearer('gary'), { Authorization: boss }].map(
        (headers) => fetch(`${app.url}/events`, { headers, signal: controller.signal }),
      ),
    );
    try {
      expect(streams.map((response) => response.status)).toEqual([200, 200, 200]);
      const body = (await get(app, '/api/presence', { Authorization: boss })).body as {
        instances: { users: { userId: string }[] }[];
      };
      const users = body.instances.flatMap((instance) => instance.users.map((u) => u.userId));
      expect(users.sort()).toEqual(['misty', 'trainerboss']);
      // And the other way round: misty sees who moves onix, the trainer of her group that she
      // sees move (trainerboss saw her, she did not see him: session 47). gary sees himself.
      const seenBy = async (user: string) =>
        (
          (await get(app, '/api/presence', await app.bearer(user))).body as {
            instances: { users: { userId: string }[] }[];
          }
        ).instances
          .flatMap((instance) => instance.users.map((u) => u.userId))
          .sort();
      expect(await seenBy('misty')).toEqual(['misty', 'trainerboss']);
      expect(await seenBy('gary')).toEqual(['gary']);
    } finally {
      controller.abort();
    }
  });
});
