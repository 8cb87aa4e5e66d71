import mongoose, { type Connection } from 'mongoose';
import { MongoGroupMembers, MongoTrainerPositions } from '../src';
import { positionRow, readModelsOn } from './read-models.harness';

// The MongoDB read models against a real server (FerretDB locally); this file owns its database
// and every test gets fresh collections.
const { client, fresh } = readModelsOn<Connection>('mongodb', {
  open: (ns) => mongoose.createConnection(ns.mongoUri()).asPromise(),
  close: async (connection) => {
    await connection.dropDatabase();
    await connection.close();
  },
  positions: async (connection, name) => {
    const positions = new MongoTrainerPositions(connection, { collection: `positions_${name}` });
    await positions.init();
    return positions;
  },
  groups: async (connection, name) => {
    const groups = new MongoGroupMembers(connection, { collection: `groups_${name}` });
    await groups.init();
    return groups;
  },
});

describe('mongodb read models indexes', () => {
  it('creates the unique version index at init, so a second row of one version is refused', async () => {
    const connection = client();
    const collection = `positions_${fresh()}`;
    await new MongoTrainerPositions(connection, { collection }).init();
    const indexes = await connection.db!.collection(collection).indexes();
    expect(indexes.some((index) => index.unique && index.key.trainerId === 1)).toBe(true);
    const groups = `groups_${fresh()}`;
    await new MongoGroupMembers(connection, { collection: groups }).init();
    const groupIndexes = await connection.db!.collection(groups).indexes();
    expect(groupIndexes.some((index) => index.unique && index.key.groupId === 1)).toBe(true);
  });
});

// A prune that failed after its insert (MongoDB away for a moment) fails the apply, which is
// retried; the retry was refused as not newer and pruned nothing, so the lower versions stayed
// until the trainer's (or pair's) next change, for ever for one that never changes again: read
// by every list() and membersOf(). The state a failed prune leaves is made here by inserting the
// lower version back, as it was before the prune.
describe('mongodb read models after a prune that failed', () => {
  const row = (version: number) => positionRow(version, Date.now() - 1_000 + version);

  it('prunes the lower positions a failed prune left at the retry of the apply, refused as not newer', async () => {
    const connection = client();
    const collection = `positions_${fresh()}`;
    const positions = new MongoTrainerPositions(connection, { collection });
    await positions.init();
    await positions.apply(row(1));
    await positions.apply(row(2));
    const documents = connection.db!.collection(collection);
    await documents.insertOne({ _id: 'ash|1' as never, ...row(1) });
    expect(await documents.countDocuments({ trainerId: 'ash' })).toBe(2);
    expect(await positions.apply(row(2))).toBe(false);
    expect(await documents.countDocuments({ trainerId: 'ash' })).toBe(1);
    expect(await positions.get('ash')).toMatchObject({ version: 2 });
  });

  it('prunes the lower memberships a failed prune left at the retry of the apply, refused as not newer', async () => {
    const connection = client();
    const collection = `groups_${fresh()}`;
    const groups = new MongoGroupMembers(connection, { collection });
    await groups.init();
    const change = (action: 'join' | 'leave', version: number) => ({
      trainerId: 'ash',
      groupId: 'party',
      action,
      version,
    });
    await groups.apply(change('join', 2));
    await groups.apply(change('leave', 3));
    const documents = connection.db!.collection(collection);
    await documents.insertOne({
      _id: 'ash|party|2' as never,
      trainerId: 'ash',
      groupId: 'party',
      member: true,
      version: 2,
    });
    expect(await groups.apply(change('leave', 3))).toBe(false);
    expect(await documents.countDocuments({ trainerId: 'ash', groupId: 'party' })).toBe(1);
    expect(await groups.membersOf('party')).toEqual([]);
  });
});
