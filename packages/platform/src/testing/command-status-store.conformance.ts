import { randomUUID } from 'node:crypto';
import { type CommandStatusStore } from '../command-status/command-status.port';

export type CommandStatusStoreFactory = (options: {
  retentionMs: number;
}) => Promise<CommandStatusStore>;

const accepted = (commandId: string, acceptedAt = '2026-11-21T10:00:00.000Z') => ({
  commandId,
  type: 'MoveTrainerCommand',
  issuerId: 'ash',
  acceptedAt,
});

/**
 * The contract of CommandStatusStore (see its doc comment), run against every implementation.
 * `factory` returns a fresh, empty store keeping entries for `retentionMs`.
 */
export function describeCommandStatusStore(name: string, factory: CommandStatusStoreFactory): void {
  describe(`${name} command status store conformance`, () => {
    const day = 86_400_000;

    it('records an accepted command and knows nothing of other ids', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.accepted(accepted(id));
      expect(await store.get(id)).toEqual({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'accepted',
        acceptedAt: '2026-11-21T10:00:00.000Z',
      });
      expect(await store.get(randomUUID())).toBeUndefined();
    });

    it("keeps a command's deadline from accepted through its outcome", async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      const deadline = '2026-11-21T10:01:00.000Z';
      await store.accepted({ ...accepted(id), deadline });
      expect(await store.get(id)).toMatchObject({ status: 'accepted', deadline });
      await store.complete({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'rejected',
        completedAt: '2026-11-21T10:01:01.000Z',
        reason: 'expired',
      });
      expect(await store.get(id)).toEqual({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'rejected',
        acceptedAt: '2026-11-21T10:00:00.000Z',
        deadline,
        completedAt: '2026-11-21T10:01:01.000Z',
        reason: 'expired',
      });
    });

    it('ignores a second accepted of the same id', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.accepted(accepted(id));
      await store.accepted({ ...accepted(id, '2026-11-21T11:00:00.000Z'), issuerId: 'gary' });
      expect(await store.get(id)).toMatchObject({
        status: 'accepted',
        issuerId: 'ash',
        acceptedAt: '2026-11-21T10:00:00.000Z',
      });
    });

    it('records the outcome, keeping the accepted time', async () => {
      const store = await factory({ retentionMs: day });
      const processed = randomUUID();
      const rejected = randomUUID();
      await store.accepted(accepted(processed));
      await store.accepted(accepted(rejected));
      await store.complete({
        commandId: processed,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'processed',
        completedAt: '2026-11-21T10:00:01.000Z',
        version: 7,
      });
      await store.complete({
        commandId: rejected,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'rejected',
        completedAt: '2026-11-21T10:00:02.000Z',
        reason: 'trainer "ash" is already moving',
      });
      expect(await store.get(processed)).toEqual({
        commandId: processed,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'processed',
        acceptedAt: '2026-11-21T10:00:00.000Z',
        completedAt: '2026-11-21T10:00:01.000Z',
        version: 7,
      });
      expect(await store.get(rejected)).toEqual({
        commandId: rejected,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'rejected',
        acceptedAt: '2026-11-21T10:00:00.000Z',
        completedAt: '2026-11-21T10:00:02.000Z',
        reason: 'trainer "ash" is already moving',
      });
    });

    it('keeps the first outcome when a redelivered command completes again', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.accepted(accepted(id));
      await store.complete({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'rejected',
        completedAt: '2026-11-21T10:00:01.000Z',
        reason: 'first',
      });
      await store.complete({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'processed',
        completedAt: '2026-11-21T10:00:05.000Z',
        version: 3,
      });
      expect(await store.get(id)).toMatchObject({ status: 'rejected', reason: 'first' });
      expect(await store.get(id)).not.toHaveProperty('version');
    });

    it('lets processed replace a failure only (a replayed dead letter applied the command)', async () => {
      const store = await factory({ retentionMs: day });
      const [failed, refused] = [randomUUID(), randomUUID()];
      const outcome = (commandId: string, status: 'processed' | 'rejected', reason?: string) => ({
        commandId,
        type: 'ChangeGroupCommand',
        issuerId: 'ash',
        status,
        completedAt: '2026-11-21T10:00:05.000Z',
        ...(reason !== undefined && { reason }),
        ...(status === 'processed' && { version: 7 }),
      });
      await store.accepted(accepted(failed));
      await store.complete(outcome(failed, 'rejected', 'failed: event store down'));
      await store.complete(outcome(failed, 'rejected', 'failed: again'));
      expect(await store.get(failed)).toMatchObject({ reason: 'failed: event store down' });
      await store.complete(outcome(failed, 'processed'));
      expect(await store.get(failed)).toMatchObject({
        status: 'processed',
        version: 7,
        acceptedAt: '2026-11-21T10:00:00.000Z',
      });
      expect(await store.get(failed)).not.toHaveProperty('reason');
      // A refusal stays: the domain said no, a replay would say no again.
      await store.complete(outcome(refused, 'rejected', 'unknown trainer "ash"'));
      await store.complete(outcome(refused, 'processed'));
      expect(await store.get(refused)).toMatchObject({ status: 'rejected' });
    });

    it('lets exactly one of many concurrent outcomes win', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.accepted(accepted(id));
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.complete({
            commandId: id,
            type: 'MoveTrainerCommand',
            issuerId: 'ash',
            status: 'processed',
            completedAt: '2026-11-21T10:00:01.000Z',
            version: i + 1,
          }),
        ),
      );
      const first = await store.get(id);
      expect(first?.status).toBe('processed');
      expect(first?.version).toBeGreaterThanOrEqual(1);
      // Nothing changes it afterwards.
      await store.complete({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'processed',
        completedAt: '2026-11-21T10:00:09.000Z',
        version: 99,
      });
      expect(await store.get(id)).toEqual(first);
    });

    it('never lets a late accepted hide an outcome', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.complete({
        commandId: id,
        type: 'MoveTrainerCommand',
        issuerId: 'ash',
        status: 'processed',
        completedAt: '2026-11-21T10:00:01.000Z',
        version: 1,
      });
      await store.accepted(accepted(id));
      expect(await store.get(id)).toMatchObject({ status: 'processed', version: 1 });
    });

    it('stores the outcome of a command that was never recorded as accepted', async () => {
      const store = await factory({ retentionMs: day });
      const id = randomUUID();
      await store.complete({
        commandId: id,
        type: 'ChangeGroupCommand',
        issuerId: 'misty',
        status: 'rejected',
        completedAt: '2026-11-21T10:00:01.000Z',
        reason: 'not a member',
      });
      expect(await store.get(id)).toEqual({
        commandId: id,
        type: 'ChangeGroupCommand',
        issuerId: 'misty',
        status: 'rejected',
        acceptedAt: '2026-11-21T10:00:01.000Z',
        completedAt: '2026-11-21T10:00:01.000Z',
        reason: 'not a member',
      });
    });

    it('forgets an entry after the retention, not before', async () => {
      const retentionMs = 1_000;
      const store = await factory({ retentionMs });
      const id = randomUUID();
      const written = Date.now();
      await store.accepted(accepted(id));
      const readAt = Date.now();
      const present = await store.get(id);
      // Only meaningful if the read happened well within the retention (a loaded machine may stall).
      if (readAt - written < retentionMs / 2) expect(present?.status).toBe('accepted');
      const deadline = written + retentionMs + 10_000;
      let gone: number | undefined;
      while (Date.now() < deadline) {
        if ((await store.get(id)) === undefined) {
          gone = Date.now();
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(gone).toBeDefined();
      expect(gone! - written).toBeGreaterThanOrEqual(retentionMs - 5);
    });
  });
}
