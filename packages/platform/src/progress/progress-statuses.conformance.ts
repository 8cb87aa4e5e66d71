import { type ProgressStatus } from '@causeway/contracts';
import { type ProgressStatuses, taskPositionOf } from './progress-statuses.port';

/** Statuses are kept this long by the implementations under test. */
export const CONFORMANCE_TTL_MS = 60_000;

function status(
  taskId: string,
  userId: string,
  eventCount: number,
  updatedAt = Date.now() - 10_000 + eventCount,
): ProgressStatus {
  return {
    taskId,
    userId,
    currentStep: eventCount - 1,
    totalSteps: 4,
    percentage: (eventCount - 1) * 25,
    stepName: `step ${eventCount - 1}`,
    status: eventCount === 1 ? 'STARTED' : 'PROGRESS',
    startedAt: new Date(updatedAt - eventCount).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
    eventCount,
    lastEventId: `${taskId}:${eventCount - 1}`,
  };
}

/**
 * The conformance suite of ProgressStatuses: run it once per implementation. `factory` builds an
 * empty store that keeps statuses CONFORMANCE_TTL_MS after their `updatedAt`.
 */
export function describeProgressStatuses(
  name: string,
  factory: () => Promise<ProgressStatuses>,
): void {
  describe(`${name} progress statuses conformance`, () => {
    let statuses: ProgressStatuses;
    beforeEach(async () => {
      statuses = await factory();
    });

    it('has nothing before anything is applied', async () => {
      expect(await statuses.get('t-1')).toBeUndefined();
      expect(await statuses.ofUser('ash')).toEqual([]);
    });

    it('stores a status and returns an equal copy', async () => {
      const row = status('t-1', 'ash', 1);
      expect(await statuses.apply(row)).toBe(true);
      expect(await statuses.get('t-1')).toEqual(row);
    });

    it('replaces a status only with one folded from more events', async () => {
      const updatedAt = Date.now() - 5_000;
      await statuses.apply(status('t-1', 'ash', 3, updatedAt));
      expect(await statuses.apply({ ...status('t-1', 'ash', 3, updatedAt), stepName: 'x' })).toBe(
        false,
      );
      expect(await statuses.apply(status('t-1', 'ash', 2, updatedAt + 1))).toBe(false);
      expect(await statuses.get('t-1')).toEqual(status('t-1', 'ash', 3, updatedAt));
      expect(await statuses.apply(status('t-1', 'ash', 4, updatedAt + 2))).toBe(true);
      expect((await statuses.get('t-1'))?.eventCount).toBe(4);
    });

    it("lists a user's own tasks only, the most recently updated first", async () => {
      const base = Date.now() - 20_000;
      await statuses.apply(status('t-old', 'ash', 2, base));
      await statuses.apply(status('t-new', 'ash', 1, base + 5_000));
      await statuses.apply(status('t-misty', 'misty', 1, base + 9_000));
      await statuses.apply(status('t-old', 'ash', 3, base + 7_000));
      expect((await statuses.ofUser('ash')).map((row) => row.taskId)).toEqual(['t-old', 't-new']);
      expect((await statuses.ofUser('misty')).map((row) => row.taskId)).toEqual(['t-misty']);
      expect(await statuses.ofUser('brock')).toEqual([]);
    });

    it('lists at most the limit, ties in taskId order', async () => {
      const at = Date.now() - 3_000;
      for (const id of ['t-c', 't-a', 't-d', 't-b']) await statuses.apply(status(id, 'ash', 1, at));
      await statuses.apply(status('t-newest', 'ash', 1, at + 1));
      expect((await statuses.ofUser('ash', 3)).map((row) => row.taskId)).toEqual([
        't-newest',
        't-a',
        't-b',
      ]);
      expect(await statuses.ofUser('ash', 0)).toEqual([]);
    });

    it('pages on after a position: every task once, in order, ties split across pages', async () => {
      const at = Date.now() - 4_000;
      // Newest first: t-e (at + 2), then t-a, t-b, t-c, t-d tied (at + 1), then t-f (at).
      await statuses.apply(status('t-f', 'ash', 1, at));
      for (const id of ['t-d', 't-b', 't-c', 't-a'])
        await statuses.apply(status(id, 'ash', 1, at + 1));
      await statuses.apply(status('t-e', 'ash', 1, at + 2));
      await statuses.apply(status('t-misty', 'misty', 1, at + 1));
      const pages: string[][] = [];
      let before;
      for (;;) {
        const page = await statuses.ofUser('ash', 2, before);
        if (page.length === 0) break;
        pages.push(page.map((row) => row.taskId));
        before = taskPositionOf(page[page.length - 1]!);
      }
      expect(pages).toEqual([
        ['t-e', 't-a'],
        ['t-b', 't-c'],
        ['t-d', 't-f'],
      ]);
    });

    it('lists nothing after the last task, and only what is after a position it never held', async () => {
      const at = Date.now() - 4_000;
      await statuses.apply(status('t-old', 'ash', 1, at));
      await statuses.apply(status('t-new', 'ash', 1, at + 10));
      const last = taskPositionOf((await statuses.get('t-old'))!);
      expect(await statuses.ofUser('ash', 5, last)).toEqual([]);
      // A cursor between the two (a task since updated away): the older one only.
      const between = { updatedAt: new Date(at + 5).toISOString(), taskId: 't-gone' };
      expect((await statuses.ofUser('ash', 5, between)).map((row) => row.taskId)).toEqual([
        't-old',
      ]);
      expect(await statuses.ofUser('misty', 5, between)).toEqual([]);
    });

    it('forgets a status once it is older than the retention (S3-7)', async () => {
      const almostExpired = Date.now() - CONFORMANCE_TTL_MS + 300;
      expect(await statuses.apply(status('t-going', 'ash', 1, almostExpired))).toBe(true);
      await statuses.apply(status('t-staying', 'ash', 1));
      expect(await statuses.get('t-going')).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await statuses.get('t-going')).toBeUndefined();
      expect((await statuses.ofUser('ash')).map((row) => row.taskId)).toEqual(['t-staying']);
      expect(
        await statuses.apply(status('t-late', 'ash', 1, Date.now() - CONFORMANCE_TTL_MS - 1)),
      ).toBe(false);
      expect(await statuses.get('t-late')).toBeUndefined();
    });
  });
}
