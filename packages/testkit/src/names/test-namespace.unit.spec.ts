import { testNamespace, withDatabase } from './test-namespace';
import { parseEnvFile } from '../servers/local.resolver';

describe('testNamespace', () => {
  it('gives every call distinct, name-safe ids', () => {
    const a = testNamespace('Event Store!');
    const b = testNamespace('Event Store!');
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^eventstore[0-9a-f]{8}$/);
    expect(a.topic('orders')).toBe(`t.${a.id}.orders`);
    expect(a.keyPrefix).toBe(`t:${a.id}:`);
  });

  it('points mongoUri at its own database, keeping options', () => {
    process.env.MONGODB_URI = 'mongodb://u:p@127.0.0.1:37017/causeway?authSource=admin';
    const ns = testNamespace('m');
    expect(ns.mongoUri()).toBe(`mongodb://u:p@127.0.0.1:37017/${ns.database}?authSource=admin`);
    expect(withDatabase('mongodb://h:1', 'db')).toBe('mongodb://h:1/db');
  });

  it('names the missing variable when a server is not configured', () => {
    delete process.env.REDIS_URL;
    expect(() => testNamespace().redisUrl).toThrow(/REDIS_URL is not set/);
  });
});

describe('parseEnvFile', () => {
  it('reads KEY=value lines and ignores the rest', () => {
    expect(
      parseEnvFile(
        '# servers\nREDIS_URL=redis://127.0.0.1:16379\nexport KAFKA_BROKERS="127.0.0.1:19092"\n\n',
      ),
    ).toEqual({
      REDIS_URL: 'redis://127.0.0.1:16379',
      KAFKA_BROKERS: '127.0.0.1:19092',
    });
  });
});
