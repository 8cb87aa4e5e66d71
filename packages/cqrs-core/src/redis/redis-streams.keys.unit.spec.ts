import { assignedPartitions, fnv1a, isFanOutGroup, StreamKeys } from './redis-streams.keys';

describe('Redis Streams key layout', () => {
  it('hashes order keys with FNV-1a 32 (stable across processes and releases)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    const keys = new StreamKeys({ keyPrefix: 'p:', partitions: 8 });
    expect(keys.partitionOf('foobar')).toBe(0xbf9cf968 % 8);
    expect(keys.stream('events.X', 'high', 3)).toBe('p:events.X:high:3');
    expect(keys.lease('events.X', 'svc.h', 3)).toBe('p:events.X:group:svc.h:lease:3');
  });

  it('hashes the UTF-8 bytes of non-ASCII keys (the ASCII fast path agrees with them)', () => {
    const reference = (text: string) => {
      let hash = 0x811c9dc5;
      for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
      return hash >>> 0;
    };
    for (const key of ['trainer-42', 'café', 'ключ', '🚀 id', 'a\u0080b']) {
      expect(fnv1a(key)).toBe(reference(key));
    }
  });

  it('has four priority lanes by default, and only normal (same streams) without priorities', () => {
    const lanes = new StreamKeys({ keyPrefix: 'p:' });
    expect(lanes.lanes).toEqual(['critical', 'high', 'normal', 'low']);
    expect(lanes.laneOf('critical')).toBe('critical');
    expect(lanes.laneOf(undefined)).toBe('normal');
    const one = new StreamKeys({ keyPrefix: 'p:', priorities: false });
    expect(one.lanes).toEqual(['normal']);
    expect(['critical', 'high', 'low', undefined].map((p) => one.laneOf(p))).toEqual([
      'normal',
      'normal',
      'normal',
      'normal',
    ]);
    expect(one.stream('t', 'normal', 3)).toBe(lanes.stream('t', 'normal', 3));
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => new StreamKeys({ partitions: 0 })).toThrow(RangeError);
    expect(() => new StreamKeys({ partitions: 1.5 })).toThrow(RangeError);
  });

  it('assigns every partition to exactly one live member, evenly, whatever order members are listed in', () => {
    const members = ['c', 'a', 'b'];
    const shares = ['a', 'b', 'c'].map((me) => [...assignedPartitions(members, me, 8)]);
    expect(shares).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5],
    ]);
    expect(assignedPartitions(['b', 'a', 'c'], 'c', 8)).toEqual(new Set([2, 5]));
    expect(assignedPartitions(['a'], 'z', 8).size).toBe(0);
  });

  it("names a topic's fan-out group registry and lists every stream of a topic", () => {
    const keys = new StreamKeys({ keyPrefix: 'p:', partitions: 2, priorities: false });
    expect(keys.fanOutGroups('events.X')).toBe('p:events.X:fan-out-groups');
    expect(keys.streamsOf('events.X')).toEqual(['p:events.X:normal:0', 'p:events.X:normal:1']);
    expect(new StreamKeys({ partitions: 2 }).streamsOf('t')).toHaveLength(8);
  });

  it('recognises per-instance fan-out groups that start at the latest entry, nothing else', () => {
    const fanOut = { group: 'gw.notify.gw-1', consumer: 'gw-1', startFrom: 'latest' } as const;
    expect(isFanOutGroup(fanOut)).toBe(true);
    // Recreating an 'earliest' group would replay the streams; a shared group is not one instance's.
    expect(isFanOutGroup({ ...fanOut, startFrom: 'earliest' })).toBe(false);
    expect(isFanOutGroup({ ...fanOut, startFrom: undefined })).toBe(false);
    expect(isFanOutGroup({ ...fanOut, group: 'gw.notify' })).toBe(false);
    expect(isFanOutGroup({ ...fanOut, group: 'gw.notifygw-1' })).toBe(false);
    expect(isFanOutGroup({ ...fanOut, group: '.gw-1' })).toBe(false);
    expect(isFanOutGroup({ ...fanOut, group: 'gw-1', consumer: 'gw-1' })).toBe(false);
  });
});
