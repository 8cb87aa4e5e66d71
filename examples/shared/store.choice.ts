import { type ExampleOptions, STORE_KINDS, type StoreKind } from './example.options';

/**
 * The options main.ts passes to `run`, from the command line and the environment:
 * `--store memory|mongodb|redis` picks the store; without it, MONGODB_URI picks MongoDB, else
 * REDIS_URL picks Redis, else the in-memory store. A server asked for without its URL is refused
 * before anything runs, naming the variable to set.
 */
export function chooseStore(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Omit<ExampleOptions, 'print'> {
  const asked = storeArgument(argv);
  const mongodbUri = env.MONGODB_URI || undefined;
  const redisUrl = env.REDIS_URL || undefined;
  const store: StoreKind = asked ?? (mongodbUri ? 'mongodb' : redisUrl ? 'redis' : 'memory');
  if (store === 'mongodb' && !mongodbUri)
    throw new Error('--store mongodb needs MONGODB_URI (e.g. mongodb://127.0.0.1:27017/examples)');
  if (store === 'redis' && !redisUrl)
    throw new Error('--store redis needs REDIS_URL (e.g. redis://127.0.0.1:6379)');
  return { store, mongodbUri, redisUrl };
}

function storeArgument(argv: readonly string[]): StoreKind | undefined {
  const at = argv.findIndex((arg) => arg === '--store' || arg.startsWith('--store='));
  if (at < 0) return undefined;
  const arg = argv[at]!;
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[at + 1];
  if (!STORE_KINDS.includes(value as StoreKind))
    throw new Error(`--store must be one of ${STORE_KINDS.join(', ')}, got ${value ?? 'nothing'}`);
  return value as StoreKind;
}
