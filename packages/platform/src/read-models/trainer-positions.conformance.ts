import { type TrainerPosition, type TrainerPositions } from './trainer-positions.port';

function row(trainerId: string, version: number, x = version): TrainerPosition {
  return {
    trainerId,
    x,
    y: -x,
    isMoving: version % 2 === 1,
    dirX: 1,
    dirY: 0,
    speed: 100,
    startedAt: version % 2 === 1 ? 1_000 * version : 0,
    version,
    updatedAt: 1_700_000_000_000 + version,
  };
}

/** The conformance suite of TrainerPositions: run it once per implementation. */
export function describeTrainerPositions(
  name: string,
  factory: () => Promise<TrainerPositions>,
): void {
  describe(`${name} trainer positions conformance`, () => {
    let positions: TrainerPositions;
    beforeEach(async () => {
      positions = await factory();
    });

    it('returns undefined and an empty list before anything is applied', async () => {
      expect(await positions.get('ash')).toBeUndefined();
      expect(await positions.list()).toEqual([]);
      expect(await positions.list(['ash'])).toEqual([]);
    });

    it('stores a row and returns it', async () => {
      expect(await positions.apply(row('ash', 1))).toBe(true);
      expect(await positions.get('ash')).toEqual(row('ash', 1));
    });

    it('replaces a row only with a greater version', async () => {
      await positions.apply(row('ash', 3));
      expect(await positions.apply(row('ash', 3, 99))).toBe(false);
      expect(await positions.apply(row('ash', 2, 99))).toBe(false);
      expect(await positions.get('ash')).toEqual(row('ash', 3));
      expect(await positions.apply(row('ash', 4))).toBe(true);
      expect(await positions.get('ash')).toEqual(row('ash', 4));
    });

    it('lists every trainer or the given ones, sorted by trainerId, latest version each', async () => {
      for (const [id, version] of [
        ['misty', 1],
        ['ash', 1],
        ['brock', 1],
        ['ash', 2],
      ] as const)
        await positions.apply(row(id, version));
      expect(await positions.list()).toEqual([row('ash', 2), row('brock', 1), row('misty', 1)]);
      expect(await positions.list(['misty', 'ash', 'nobody', 'ash'])).toEqual([
        row('ash', 2),
        row('misty', 1),
      ]);
      expect(await positions.list([])).toEqual([]);
    });

    it('lists the trainers updated at or after a time, sorted by trainerId, latest version each', async () => {
      const at = (version: number) => row('x', version).updatedAt;
      for (const [id, version] of [
        ['misty', 1],
        ['ash', 1],
        ['brock', 3],
        ['ash', 4],
        ['ash', 2], // older: changes nothing
      ] as const)
        await positions.apply(row(id, version));
      expect(await positions.recent(at(3))).toEqual([row('ash', 4), row('brock', 3)]);
      expect(await positions.recent(at(4))).toEqual([row('ash', 4)]);
      expect(await positions.recent(at(5))).toEqual([]);
      expect(await positions.recent(0)).toEqual([row('ash', 4), row('brock', 3), row('misty', 1)]);
      // A trainer that moves again is recent again.
      await positions.apply(row('misty', 6));
      expect(await positions.recent(at(5))).toEqual([row('misty', 6)]);
    });

    it('ends at the highest version when versions are applied concurrently and out of order', async () => {
      const versions = Array.from({ length: 20 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      const results = await Promise.all(versions.map((v) => positions.apply(row('race', v))));
      expect(results).toContain(true);
      expect(await positions.get('race')).toEqual(row('race', 20));
      expect(await positions.apply(row('race', 20))).toBe(false);
      expect(await positions.list(['race'])).toEqual([row('race', 20)]);
    });

    it('applies the same version once when it is delivered concurrently', async () => {
      const results = await Promise.all(
        Array.from({ length: 5 }, () => positions.apply(row('twice', 1))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await positions.get('twice')).toEqual(row('twice', 1));
    });

    it('stores the groups a row was applied with and returns them; a row without has none', async () => {
      const grouped = { ...row('ash', 1), groups: ['johto', 'kanto'] };
      expect(await positions.apply(grouped)).toBe(true);
      await positions.apply(row('brock', 1));
      expect(await positions.get('ash')).toEqual(grouped);
      expect(await positions.list()).toEqual([grouped, row('brock', 1)]);
      expect(await positions.list(['ash'])).toEqual([grouped]);
      expect((await positions.get('brock'))!.groups).toBeUndefined();
      // A newer row without groups drops them; `[]` (a move made in no group) is kept as such.
      await positions.apply(row('ash', 2));
      expect(await positions.get('ash')).toStrictEqual(row('ash', 2));
      await positions.apply({ ...row('ash', 3), groups: [] });
      expect(await positions.get('ash')).toEqual({ ...row('ash', 3), groups: [] });
    });

    it('refuses a malformed row, naming the field and the trainer, and changes nothing', async () => {
      await positions.apply(row('ash', 2));
      for (const [field, value] of [
        ['version', Number.NaN],
        ['version', 2.5],
        ['version', '3'],
        ['x', Number.POSITIVE_INFINITY],
        ['y', null],
        ['isMoving', 'yes'],
        ['updatedAt', undefined],
        ['groups', 'kanto'],
      ] as const) {
        const bad = { ...row('ash', 3), [field]: value } as unknown as TrainerPosition;
        await expect(positions.apply(bad)).rejects.toThrow(
          new RegExp(`^TrainerPositions\\.apply: ${field} must be .*, got .* \\(trainer "ash"\\)$`),
        );
      }
      await expect(positions.apply({ ...row('', 1) })).rejects.toThrow(
        /^TrainerPositions\.apply: trainerId must be a non-empty string, got ""/,
      );
      expect(await positions.list()).toEqual([row('ash', 2)]);
      // The trainer is not wedged: a good row still applies.
      expect(await positions.apply(row('ash', 3))).toBe(true);
      expect(await positions.get('ash')).toEqual(row('ash', 3));
    });

    it('does not share state with a returned row', async () => {
      await positions.apply(row('ash', 1));
      const got = (await positions.get('ash'))!;
      got.x = 1234;
      expect((await positions.get('ash'))!.x).toBe(1);
      const groups = ['kanto'];
      await positions.apply({ ...row('misty', 1), groups });
      groups.push('johto');
      (await positions.get('misty'))!.groups!.push('orange');
      expect((await positions.get('misty'))!.groups).toEqual(['kanto']);
    });
  });
}
