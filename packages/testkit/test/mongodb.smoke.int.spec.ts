import mongoose, { Schema, type Connection } from 'mongoose';
import { testNamespace } from '../src';

// Proves MONGODB_URI points at a real MongoDB-wire server (FerretDB locally, MongoDB elsewhere)
// that supports what Causeway's stores need: CRUD, findOneAndUpdate and unique indexes.
describe('MongoDB-wire server (smoke)', () => {
  const ns = testNamespace('mongo');
  let connection: Connection;

  const TrainerSchema = new Schema({
    trainerId: { type: String, required: true, unique: true },
    x: Number,
    y: Number,
    version: Number,
  });

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(ns.mongoUri(), { serverSelectionTimeoutMS: 10_000 })
      .asPromise();
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('answers ping', async () => {
    const reply = await connection.db!.admin().command({ ping: 1 });
    expect(reply.ok).toBe(1);
  });

  it('creates, finds and conditionally updates a document, and rejects a duplicate key with E11000', async () => {
    const Trainer = connection.model('Trainer', TrainerSchema);
    await Trainer.init(); // builds the unique index

    await Trainer.create({ trainerId: 'ash', x: 0, y: 0, version: 1 });
    const found = await Trainer.find({ trainerId: 'ash' }).lean();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ x: 0, y: 0, version: 1 });

    const updated = await Trainer.findOneAndUpdate(
      { trainerId: 'ash', version: 1 },
      { $set: { x: 5 }, $inc: { version: 1 } },
      { new: true },
    ).lean();
    expect(updated).toMatchObject({ x: 5, version: 2 });

    // The same expected version no longer matches: an optimistic-concurrency miss.
    const stale = await Trainer.findOneAndUpdate(
      { trainerId: 'ash', version: 1 },
      { $set: { x: 9 } },
      { new: true },
    );
    expect(stale).toBeNull();

    await expect(
      Trainer.create({ trainerId: 'ash', x: 1, y: 1, version: 1 }),
    ).rejects.toMatchObject({ code: 11000 });
    expect(await Trainer.countDocuments()).toBe(1);
  });
});
