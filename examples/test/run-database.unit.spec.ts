import mongoose from 'mongoose';
import { withDatabase } from '../shared/example.backend';

// An example works in a database of its own on the server of MONGODB_URI. The path's database
// is also where the driver authenticates when the URI names no authSource (admin without a
// path): replacing it must keep the user's credentials checked where they were defined.
describe("an example run's MongoDB database", () => {
  it('replaces the database of a URI without credentials', () => {
    expect(withDatabase('mongodb://127.0.0.1:27017/app', 'examples_01_x')).toBe(
      'mongodb://127.0.0.1:27017/examples_01_x',
    );
    expect(withDatabase('mongodb://db:27017/?replicaSet=rs0', 'examples_01_x')).toBe(
      'mongodb://db:27017/examples_01_x?replicaSet=rs0',
    );
  });

  it('keeps authenticating where the URI did: its database, or admin without one', () => {
    expect(withDatabase('mongodb://ash:pika@db:27017/accounts', 'examples_01_x')).toBe(
      'mongodb://ash:pika@db:27017/examples_01_x?authSource=accounts',
    );
    expect(withDatabase('mongodb://ash:pika@db:27017', 'examples_01_x')).toBe(
      'mongodb://ash:pika@db:27017/examples_01_x?authSource=admin',
    );
    expect(withDatabase('mongodb://ash:pika@db:27017/?tls=true', 'examples_01_x')).toBe(
      'mongodb://ash:pika@db:27017/examples_01_x?tls=true&authSource=admin',
    );
  });

  it('leaves an authSource the URI names as it is', () => {
    expect(
      withDatabase('mongodb://ash:pika@db:27017/accounts?authSource=users', 'examples_01_x'),
    ).toBe('mongodb://ash:pika@db:27017/examples_01_x?authSource=users');
  });

  it('adds no authSource for a mechanism whose users are defined outside MongoDB ($external)', () => {
    // X.509, LDAP (PLAIN), Kerberos, AWS and OIDC users authenticate against $external, the
    // driver's default for them; an authSource of admin or the path's database is refused when
    // the client is built ("requires an authSource of '$external'"): no example could run.
    for (const mechanism of ['MONGODB-X509', 'PLAIN', 'GSSAPI']) {
      const uri = withDatabase(
        `mongodb://CN%3Dash@db:27017/accounts?authMechanism=${mechanism}`,
        'examples_01_x',
      );
      expect(uri).toBe(`mongodb://CN%3Dash@db:27017/examples_01_x?authMechanism=${mechanism}`);
      expect(() => new mongoose.mongo.MongoClient(uri)).not.toThrow();
    }
  });
});
