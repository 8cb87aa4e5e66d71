import { credentialsRemoved, withoutCredentials } from './connection-target';

describe('withoutCredentials', () => {
  it.each([
    ['redis://:secret@10.0.0.5:6379', 'redis://10.0.0.5:6379'],
    ['rediss://user:secret@cache.internal:6380/2', 'rediss://cache.internal:6380/2'],
    [
      'mongodb://app:s%40cret@db1:27017,db2:27017/causeway?replicaSet=rs0',
      'mongodb://db1:27017,db2:27017/causeway?replicaSet=rs0',
    ],
    [
      'mongodb+srv://app:pw@cluster.example.net/causeway',
      'mongodb+srv://cluster.example.net/causeway',
    ],
    ['redis://127.0.0.1:16379', 'redis://127.0.0.1:16379'],
    // A password with an `@` in it: the drivers split at the last one (a review, session 35).
    ['redis://:hunter2@x7Q@10.0.0.5:6379', 'redis://10.0.0.5:6379'],
    ['mongodb://app:Ab@Cd@db:27017/causeway', 'mongodb://db:27017/causeway'],
    // Credentials in the query string (ioredis reads `password`; MongoDB's TLS and AWS options).
    ['redis://10.0.0.5:6379/0?password=s3cret-pw', 'redis://10.0.0.5:6379/0?password=[Redacted]'],
    [
      'mongodb://db/x?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:t0k&tlsCertificateKeyFilePassword=pw&appName=api',
      'mongodb://db/x?authMechanism=MONGODB-AWS&authMechanismProperties=[Redacted]&tlsCertificateKeyFilePassword=[Redacted]&appName=api',
    ],
  ])('shows %s as %s', (address, shown) => {
    expect(withoutCredentials(address)).toBe(shown);
  });

  it('removes credentials from a text that quotes the address or another URL', () => {
    const uri = 'mongodb://app:Ab%40Cd@@x@127.0.0.1:1/causeway';
    expect(credentialsRemoved(`Protocol and host list are required in "${uri}"`, uri)).toBe(
      'Protocol and host list are required in "mongodb://127.0.0.1:1/causeway"',
    );
    expect(credentialsRemoved('Invalid URL: redis://:pw@x@h:1 and mongodb://u:p@db/x')).toBe(
      'Invalid URL: redis://[Redacted]@h:1 and mongodb://[Redacted]@db/x',
    );
  });

  it.each([
    [
      'cannot reach redis://cache:6379/0?password=s3cret&db=2',
      'cannot reach redis://cache:6379/0?password=[Redacted]&db=2',
    ],
    [
      'driver: connect failed (password=s3cret, user=app)',
      'driver: connect failed (password=[Redacted], user=app)',
    ],
    [
      "ERR unknown command 'CONFIG SET requirepass s3cret'",
      "ERR unknown command 'CONFIG SET requirepass [Redacted]'",
    ],
    ['ERR wrong command: AUTH app s3cret', 'ERR wrong command: AUTH [Redacted]'],
    [
      '401 from upstream: Authorization: Bearer s3cret.jwt.sig',
      '401 from upstream: Authorization: Bearer [Redacted]',
    ],
  ])("removes a credential outside a URL's user info: %s", (text, shown) => {
    expect(credentialsRemoved(text)).toBe(shown);
    expect(credentialsRemoved(text)).not.toContain('s3cret');
  });

  it('keeps messages that only mention credentials', () => {
    for (const text of [
      'NOAUTH Authentication required.',
      'WRONGPASS invalid username-password pair or user is disabled.',
      'password authentication failed for user "app"',
    ])
      expect(credentialsRemoved(text)).toBe(text);
  });
});
