import { type CheckpointStore } from '../outbox/checkpoint-store.port';

/** The conformance suite of checkpoint stores. */
export function describeCheckpointStoreConformance(
  name: string,
  factory: () => Promise<CheckpointStore>,
): void {
  describe(`${name} checkpoint store conformance`, () => {
    it('starts at 0, saves, and never moves backwards', async () => {
      const store = await factory();
      expect(await store.load('forwarder')).toBe(0);
      await store.save('forwarder', 10);
      expect(await store.load('forwarder')).toBe(10);
      await store.save('forwarder', 7);
      expect(await store.load('forwarder')).toBe(10);
      await store.save('forwarder', 11);
      expect(await store.load('forwarder')).toBe(11);
      expect(await store.load('projection')).toBe(0);
    });

    it('keeps the highest of concurrent saves', async () => {
      const store = await factory();
      const positions = Array.from({ length: 50 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      await Promise.all(positions.map((position) => store.save('race', position)));
      expect(await store.load('race')).toBe(50);
    });

    it('resets one name to 0 (a rebuild), after which saves count from there', async () => {
      const store = await factory();
      await store.save('rebuilt', 40);
      await store.save('kept', 30);
      await store.reset('rebuilt');
      expect(await store.load('rebuilt')).toBe(0);
      expect(await store.load('kept')).toBe(30);
      await store.save('rebuilt', 5);
      expect(await store.load('rebuilt')).toBe(5);
      await store.reset('never-saved');
      expect(await store.load('never-saved')).toBe(0);
    });
  });
}
