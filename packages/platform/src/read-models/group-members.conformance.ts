import { type GroupMembers } from './group-members.port';

/** The conformance suite of GroupMembers: run it once per implementation. */
export function describeGroupMembers(name: string, factory: () => Promise<GroupMembers>): void {
  describe(`${name} group members conformance`, () => {
    let groups: GroupMembers;
    beforeEach(async () => {
      groups = await factory();
    });

    const join = (trainerId: string, groupId: string, version: number) =>
      groups.apply({ trainerId, groupId, action: 'join', version });
    const leave = (trainerId: string, groupId: string, version: number) =>
      groups.apply({ trainerId, groupId, action: 'leave', version });

    it('is empty before anything is applied', async () => {
      expect(await groups.membersOf('party')).toEqual([]);
      expect(await groups.groupsOf('ash')).toEqual([]);
    });

    it('lists members and groups sorted after joins', async () => {
      expect(await join('misty', 'party', 2)).toBe(true);
      expect(await join('ash', 'party', 5)).toBe(true);
      expect(await join('ash', 'gym', 6)).toBe(true);
      expect(await join('ash', 'arena', 7)).toBe(true);
      expect(await groups.membersOf('party')).toEqual(['ash', 'misty']);
      expect(await groups.groupsOf('ash')).toEqual(['arena', 'gym', 'party']);
      expect(await groups.groupsOf('misty')).toEqual(['party']);
    });

    it('removes a member on leave', async () => {
      await join('ash', 'party', 1);
      await join('ash', 'gym', 2);
      expect(await leave('ash', 'party', 3)).toBe(true);
      expect(await groups.membersOf('party')).toEqual([]);
      expect(await groups.groupsOf('ash')).toEqual(['gym']);
    });

    it('ignores a change whose version is not greater than the last one of that trainer and group', async () => {
      await join('ash', 'party', 3);
      await leave('ash', 'party', 5);
      expect(await join('ash', 'party', 4)).toBe(false);
      expect(await join('ash', 'party', 5)).toBe(false);
      expect(await groups.membersOf('party')).toEqual([]);
      // versions are per trainer and group: another group of the same trainer is independent
      expect(await join('ash', 'gym', 1)).toBe(true);
      expect(await groups.groupsOf('ash')).toEqual(['gym']);
      expect(await join('ash', 'party', 6)).toBe(true);
      expect(await groups.groupsOf('ash')).toEqual(['gym', 'party']);
    });

    it('treats joining twice and leaving a group one is not in as harmless', async () => {
      await join('ash', 'party', 1);
      await join('ash', 'party', 2);
      expect(await groups.membersOf('party')).toEqual(['ash']);
      await leave('ash', 'gym', 3);
      expect(await groups.groupsOf('ash')).toEqual(['party']);
      expect(await groups.membersOf('gym')).toEqual([]);
      // A leave applied first (a rebuild applies the leaves ahead) still refuses older joins.
      expect(await join('ash', 'gym', 2)).toBe(false);
      expect(await groups.membersOf('gym')).toEqual([]);
    });

    it('refuses a malformed change, naming the field, and changes nothing', async () => {
      await join('ash', 'party', 2);
      const good = { trainerId: 'ash', groupId: 'party', action: 'leave', version: 3 } as const;
      for (const [field, value, rule] of [
        ['version', Number.NaN, 'a non-negative safe integer'],
        ['version', 3.5, 'a non-negative safe integer'],
        ['version', '3', 'a non-negative safe integer'],
        ['action', 'Leave', '"join" or "leave"'],
        ['groupId', '', 'a non-empty string'],
        ['trainerId', 7, 'a non-empty string'],
      ] as const) {
        const bad = { ...good, [field]: value } as unknown as typeof good;
        await expect(groups.apply(bad)).rejects.toThrow(
          `GroupMembers.apply: ${field} must be ${rule}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
        );
      }
      expect(await groups.membersOf('party')).toEqual(['ash']);
      expect(await groups.groupsOf('ash')).toEqual(['party']);
      // Not wedged: a good change still applies.
      expect(await groups.apply(good)).toBe(true);
      expect(await groups.membersOf('party')).toEqual([]);
    });

    it('ends at the highest version when changes of one trainer and group race', async () => {
      const versions = Array.from({ length: 20 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      // odd versions join, even ones leave: version 20 (a leave) must win, 21 (a join) after it
      await Promise.all(
        versions.map((v) =>
          groups.apply({
            trainerId: 'ash',
            groupId: 'race',
            action: v % 2 ? 'join' : 'leave',
            version: v,
          }),
        ),
      );
      expect(await groups.membersOf('race')).toEqual([]);
      expect(await join('ash', 'race', 21)).toBe(true);
      expect(await groups.membersOf('race')).toEqual(['ash']);
    });
  });
}
