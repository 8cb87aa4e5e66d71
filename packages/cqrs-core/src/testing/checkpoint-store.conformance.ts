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

    it.each([
      [
        -5,
        RangeError,
        'position must be a non-negative integer (at most 9007199254740991), got -5',
      ],
      [
        Number.NaN,
        RangeError,
        'position must be a non-negative integer (at most 9007199254740991), got NaN',
      ],
      [
        2.5,
        RangeError,
        'position must be a non-negative integer (at most 9007199254740991), got 2.5',
      ],
      [
        2 ** 60,
        RangeError,
        'position must be a non-negative integer (at most 9007199254740991), got 1152921504606847000',
      ],
      [
        '7',
        TypeError,
        'position must be a non-negative integer (at most 9007199254740991), got "7"',
      ],
    ])(
      'refuses to save a position of %p, naming it, and keeps the checkpoint',
      async (position, type, message) => {
        const store = await factory();
        await store.save('refused', 3);
        const refused = store.save('refused', position as number);
        await expect(refused).rejects.toThrow(type);
        await expect(refused).rejects.toThrow(message);
        expect(await store.load('refused')).toBe(3);
        await store.save('refused', 4);
        expect(await store.load('refused')).toBe(4);
      },
    );

    it.each([[''], [undefined], [7]])(
      'refuses a checkpoint name of %p with a TypeError, on load, save and reset',
      async (name) => {
        const store = await factory();
        const message = 'checkpoint name must be a non-empty string';
        for (const call of [
          () => store.load(name as string),
          () => store.save(name as string, 4),
          () => store.reset(name as string),
        ]) {
          const refused = call();
          await expect(refused).rejects.toThrow(TypeError);
          await expect(refused).rejects.toThrow(message);
        }
      },
    );
  });
}
