import mongoose, { type Connection } from 'mongoose';
import { testNamespace } from '@causeway/testkit';
import { MongoGroupMembers, MongoTrainerPositions } from '../src';
import { describeGroupMembers, describeTrainerPositions } from '../src/testing';

// The MongoDB read models against a real server (FerretDB locally); this file owns its database
// and every test gets fresh collections.
const ns = testNamespace('readmodels');
let connection: Connection;
let run = 0;

beforeAll(async () => {
  connection = await mongoose.createConnection(ns.mongoUri()).asPromise();
});
afterAll(async () => {
  await connection.dropDatabase();
  await connection.close();
});

describeTrainerPositions('mongodb', async () => {
  const positions = new MongoTrainerPositions(connection, { collection: `positions_${run++}` });
  await positions.init();
  return positions;
});
describeGroupMembers('mongodb', async () => {
  const groups = new MongoGroupMembers(connection, { collection: `groups_${run++}` });
  await groups.init();
  return groups;
});

describe('mongodb read models indexes', () => {
  it('creates the unique version index at init, so a second row of one version is refused', async () => {
    const collection = `positions_${run++}`;
    await new MongoTrainerPositions(connection, { collection }).init();
    const indexes = await connection.db!.collection(collection).indexes();
    expect(indexes.some((index) => index.unique && index.key.trainerId === 1)).toBe(true);
    const groups = `groups_${run++}`;
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
  const row = (version: number) => ({
    trainerId: 'ash',
    x: version,
    y: 0,
    isMoving: false,
    dirX: 0,
    dirY: 0,
    speed: 0,
    startedAt: 0,
    version,
    updatedAt: Date.now() - 1_000 + version,
  });

  it('prunes the lower positions a failed prune left at the retry of the apply, refused as not newer', async () => {
    const collection = `positions_${run++}`;
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
    const collection = `groups_${run++}`;
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
