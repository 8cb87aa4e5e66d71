import { type Redis } from 'ioredis';
import { type Connection } from 'mongoose';
import { MongoReadStore } from '../mongodb/mongodb.read-store';
import { RedisReadStore } from '../redis/redis.read-store';
import { documentCollection } from '../documents/document.collection';
import { documentProjection } from '../documents/document.projection';
import { InMemoryReadStore } from './in-memory.read-store';
import { type ReadStore } from './read-store.port';

// Compile-time checks of the field names a query may use, run by the typecheck script (tsc
// includes the spec files): an unused `@ts-expect-error` fails it, i.e. when a misspelt field
// compiles. A misspelt where field matched no row on MongoDB, and was refused only at run time
// on Redis.
type Trainer = { name: string; status: 'active' | 'away'; rank?: number };
declare const trainers: ReadStore<Trainer>;
declare const untyped: ReadStore;
declare const client: Redis;
// A row declared as an interface (no index signature) types a store as well as a type alias:
// `Row extends ReadRow` refused it ("Index signature for type 'string' is missing").
interface TrainerRow {
  name: string;
  status: 'active' | 'away';
  rank?: number;
}
const users = documentCollection<TrainerRow>('users');
declare const connection: Connection;

// Functions never called: the checks are the compiler's.
export const checked = [
  () =>
    trainers.find({
      where: { name: 'Ash', status: { in: ['active'] } },
      orderBy: { field: 'rank' },
    }),
  // @ts-expect-error nme is no field of Trainer
  () => trainers.find({ where: { nme: 'Ash' } }),
  // @ts-expect-error nme is no field of Trainer
  () => trainers.find({ orderBy: { field: 'nme' } }),
  // @ts-expect-error nme is no field of Trainer
  () => trainers.count({ nme: 'Ash' }),
  // @ts-expect-error nme is no field of Trainer
  () => trainers.countBy('nme'),
  // @ts-expect-error nme is no field of Trainer
  () => trainers.countBy('status', { nme: 'Ash' }),
  // @ts-expect-error nme is no field of Trainer
  () => new InMemoryReadStore<Trainer>().find({ where: { nme: 'Ash' } }),
  // @ts-expect-error nme is no field of Trainer
  () => new MongoReadStore<Trainer>({ connection, collection: 't' }).find({ where: { nme: 'x' } }),
  // @ts-expect-error nme is no field of Trainer
  () => new MongoReadStore<Trainer>({ connection, collection: 't', fields: ['nme'] }),
  // @ts-expect-error nme is no field of Trainer
  () => new MongoReadStore<Trainer>({ connection, collection: 't', indexes: [['nme']] }),
  () => new MongoReadStore<Trainer>({ connection, collection: 't', indexes: [['status', 'rank']] }),
  // @ts-expect-error nme is no field of Trainer
  () => new RedisReadStore<Trainer>({ client, keyPrefix: 't:' }).countBy('nme'),
  // @ts-expect-error nme is no field of Trainer
  () => new RedisReadStore<Trainer>({ client, keyPrefix: 't:', indexed: ['nme'] }),
  () => new RedisReadStore<Trainer>({ client, keyPrefix: 't:', indexed: ['status'] }),
  () =>
    new InMemoryReadStore<TrainerRow>().find({
      where: { status: 'away' },
      orderBy: { field: 'rank' },
    }),
  () => new MongoReadStore<TrainerRow>({ connection, collection: 't', fields: ['status'] }),
  () => new RedisReadStore<TrainerRow>({ client, keyPrefix: 't:', indexed: ['status'] }),
  () => documentProjection(users, new InMemoryReadStore<TrainerRow>()),
  // @ts-expect-error nme is no field of TrainerRow
  () => new InMemoryReadStore<TrainerRow>().countBy('nme'),
  // A store without a row type takes any field name, as before.
  () => untyped.find({ where: { anything: 1 }, orderBy: { field: 'other' } }),
  () => new RedisReadStore({ client, keyPrefix: 't:', indexed: ['anything'] }).countBy('x'),
];

describe('ReadStore field types', () => {
  it('are checked by the compiler (see the typecheck script)', () => {
    expect(checked).toHaveLength(21);
  });
});
