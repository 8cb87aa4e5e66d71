import mongoose, { type Connection } from 'mongoose';
import { testNamespace } from '@causeway/testkit';
import { describeDeadLetterQueueConformance, testEnvelope } from '../src/testing';
import { MongoDeadLetterQueue } from '../src/mongodb';

const ns = testNamespace('deadletters');
let connection: Connection;
let run = 0;

beforeAll(async () => {
  connection = await mongoose.createConnection(ns.mongoUri()).asPromise();
});
afterAll(async () => {
  await connection.dropDatabase();
  await connection.close();
});

describeDeadLetterQueueConformance('mongodb', async (settings) => {
  const queue = new MongoDeadLetterQueue({
    connection,
    collection: `dead_letters_${run++}`,
    ...settings,
  });
  await queue.init();
  return queue;
});

it('keeps data MongoDB would refuse as field names, and survives a second init', async () => {
  const queue = new MongoDeadLetterQueue({ connection, collection: 'dead_letters_odd' });
  await queue.init();
  await queue.init();
  const envelope = testEnvelope('Odd', { $set: { 'a.b': 1 }, nested: { $where: 'x' } });
  const id = await queue.add({
    envelope,
    originalTopic: 'events.Odd',
    position: '7-0',
    group: 'g',
    handler: 'h',
    reason: 'boom',
    errorName: 'Error',
    attempts: 1,
    deadLetteredAt: new Date().toISOString(),
  });
  const [letter] = await queue.list({ ids: [id] });
  expect(letter?.envelope).toEqual(envelope);
  expect(await queue.list({ type: 'Odd' })).toHaveLength(1);
  expect(() => new MongoDeadLetterQueue({} as never)).toThrow(
    'MongoDeadLetterQueue: options.connection (a mongoose Connection) is required',
  );
});
