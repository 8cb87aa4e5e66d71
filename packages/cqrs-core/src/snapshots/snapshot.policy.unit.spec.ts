import { type SnapshotPolicyContext, SnapshotPolicies as P } from './snapshot.policy';

const at = (iso: string) => new Date(iso);
const context = (overrides: Partial<SnapshotPolicyContext> = {}): SnapshotPolicyContext => ({
  streamId: 's',
  version: 10,
  snapshotVersion: 0,
  snapshotTakenAt: undefined,
  appendedEvents: 1,
  now: at('2026-01-01T00:10:00Z'),
  ...overrides,
});

describe('snapshot policies', () => {
  it('everyEvents counts versions since the last snapshot, also across multi-event saves', () => {
    expect(P.everyEvents(10)(context({ version: 10 }))).toBe(true);
    expect(P.everyEvents(10)(context({ version: 9 }))).toBe(false);
    expect(P.everyEvents(10)(context({ version: 19, snapshotVersion: 10 }))).toBe(false);
    expect(
      P.everyEvents(10)(context({ version: 23, snapshotVersion: 10, appendedEvents: 5 })),
    ).toBe(true);
    expect(() => P.everyEvents(0)).toThrow(RangeError);
  });

  it('olderThan compares the last snapshot time with now; no snapshot counts as old', () => {
    const taken = at('2026-01-01T00:09:00Z');
    expect(P.olderThan(60_000)(context({ snapshotTakenAt: taken }))).toBe(true);
    expect(P.olderThan(60_001)(context({ snapshotTakenAt: taken }))).toBe(false);
    expect(P.olderThan(60_000)(context())).toBe(true);
    expect(() => P.olderThan(-1)).toThrow(RangeError);
  });

  it('olderThan takes a snapshot dated in the future (a clock stepped back) as due, not as young', () => {
    const ahead = at('2026-01-01T01:10:00Z'); // an hour after now
    expect(P.olderThan(60_000)(context({ snapshotTakenAt: ahead }))).toBe(true);
  });

  it('combines policies', () => {
    const policy = P.anyOf(P.everyEvents(100), P.allOf(P.everyEvents(10), P.olderThan(60_000)));
    const taken = at('2026-01-01T00:09:30Z'); // 30 s ago
    expect(policy(context({ version: 15, snapshotTakenAt: taken }))).toBe(false);
    expect(policy(context({ version: 15, snapshotTakenAt: at('2026-01-01T00:00:00Z') }))).toBe(
      true,
    );
    expect(policy(context({ version: 100, snapshotTakenAt: taken }))).toBe(true);
    expect(P.not(P.always)(context())).toBe(false);
    expect(P.never(context())).toBe(false);
    expect(P.allOf()(context())).toBe(true);
    expect(P.anyOf()(context())).toBe(false);
  });

  it('accepts a custom predicate', () => {
    const onRetire = P.when((c) => c.streamId.startsWith('Trainer-') && c.appendedEvents > 1);
    expect(onRetire(context({ streamId: 'Trainer-1', appendedEvents: 2 }))).toBe(true);
    expect(onRetire(context({ streamId: 'Order-1', appendedEvents: 2 }))).toBe(false);
  });
});
