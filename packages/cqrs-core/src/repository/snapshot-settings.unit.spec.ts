import { InMemoryEventStore } from '../event-store/in-memory/in-memory.event-store';
import { InMemorySnapshotStore } from '../snapshots/in-memory.snapshot-store';
import { type SnapshotPolicy, SnapshotPolicies } from '../snapshots/snapshot.policy';
import { deciderRepository } from './decider.repository';
import { trainerDecider } from '../../test/fixtures/trainer.domain';

describe('repository snapshot settings', () => {
  const repositoryWith = (policy: unknown) => () =>
    deciderRepository(trainerDecider, {
      eventStore: new InMemoryEventStore(),
      aggregateType: 'Trainer',
      snapshots: {
        store: new InMemorySnapshotStore(),
        policy: policy as SnapshotPolicy,
        schemaVersion: 1,
      },
    });

  it('refuses a policy that is not a function, as SnapshotPolicies.always() gives, naming the option', () => {
    // A JavaScript caller (or a cast) calling the policy: `always()` is `true`, not a policy.
    const called = (SnapshotPolicies.always as unknown as () => unknown)();
    expect(repositoryWith(called)).toThrow(TypeError);
    expect(repositoryWith(called)).toThrow(
      'snapshots.policy must be a SnapshotPolicy function, got true: pass ' +
        'SnapshotPolicies.always / never as they are (not called), or what a factory such as ' +
        'SnapshotPolicies.everyEvents(100) returns',
    );
    expect(repositoryWith(undefined)).toThrow('snapshots.policy must be a SnapshotPolicy function');
  });

  it('refuses a schema version or a store that no snapshot could be saved or loaded with, naming it', () => {
    const repositoryWithSettings = (settings: Record<string, unknown>) => () =>
      deciderRepository(trainerDecider, {
        eventStore: new InMemoryEventStore(),
        aggregateType: 'Trainer',
        snapshots: {
          store: new InMemorySnapshotStore(),
          policy: SnapshotPolicies.always,
          schemaVersion: 1,
          ...settings,
        } as never,
      });
    // `Number(process.env.SNAPSHOT_SCHEMA)` of nothing, a string from a config file, a typo:
    // every load and save then failed, with only a warning each, and no snapshot was ever taken.
    for (const [schemaVersion, shown] of [
      [Number(undefined), 'NaN'],
      ['2', '"2"'],
      [undefined, 'undefined'],
      [1.5, '1.5'],
    ] as const) {
      expect(repositoryWithSettings({ schemaVersion })).toThrow(TypeError);
      expect(repositoryWithSettings({ schemaVersion })).toThrow(
        `snapshots.schemaVersion must be an integer, got ${shown}`,
      );
    }
    expect(repositoryWithSettings({ store: undefined })).toThrow(
      'snapshots.store must be a SnapshotStore (save, loadLatest, list), got undefined',
    );
    expect(repositoryWithSettings({ store: InMemorySnapshotStore })).toThrow(
      'snapshots.store must be a SnapshotStore (save, loadLatest, list)',
    );
    expect(repositoryWithSettings({ schemaVersion: 0 })).not.toThrow();
    expect(repositoryWithSettings({ schemaVersion: -3 })).not.toThrow();
  });

  it('takes the policies themselves and what the factories return', () => {
    expect(repositoryWith(SnapshotPolicies.always)).not.toThrow();
    expect(repositoryWith(SnapshotPolicies.everyEvents(10))).not.toThrow();
  });
});
