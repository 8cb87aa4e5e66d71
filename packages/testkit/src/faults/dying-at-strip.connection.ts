import { type Connection, type mongo as mongodb } from 'mongoose';

/**
 * The mongoose connection as a process killed in the middle of a MongoDB delete or truncate
 * leaves it: the strip of the events (a bulkWrite on a `…commits` collection) never reaches the
 * server; every other call goes through. For tests of what finishes a removal left half-done.
 */
export function dyingAtStrip(connection: Connection): Connection {
  const bound = <T extends object>(target: T, replace: (prop: string | symbol) => unknown) =>
    new Proxy(target, {
      get(object, prop) {
        const replaced = replace(prop);
        if (replaced !== undefined) return replaced;
        const value = Reflect.get(object, prop, object) as unknown;
        return typeof value === 'function' ? value.bind(object) : value;
      },
    });
  const db = connection.db!;
  const dyingDb = bound(db, (prop) =>
    prop === 'collection'
      ? (name: string, options?: mongodb.CollectionOptions) => {
          const collection = db.collection(name, options);
          if (!name.endsWith('commits')) return collection;
          return bound(collection, (member) =>
            member === 'bulkWrite'
              ? () => Promise.reject(new Error('killed during the strip'))
              : undefined,
          );
        }
      : undefined,
  );
  return bound(connection, (prop) => (prop === 'db' ? dyingDb : undefined));
}
