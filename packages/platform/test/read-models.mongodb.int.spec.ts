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
