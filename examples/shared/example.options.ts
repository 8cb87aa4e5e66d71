/** Where an example keeps its events: process memory, or a real server. */
export type StoreKind = 'memory' | 'mongodb' | 'redis';

export const STORE_KINDS: readonly StoreKind[] = ['memory', 'mongodb', 'redis'];

/** What every example's `run(options)` takes. */
export interface ExampleOptions {
  /** Default `memory`: no server needed. */
  store?: StoreKind;
  /** Required when `store` is `mongodb`; the example works in a database of its own on that server. */
  mongodbUri?: string;
  /** Required when `store` is `redis`; the example works under a key prefix of its own. */
  redisUrl?: string;
  /** Where each step's line goes as it happens (main.ts: the console). Default: nowhere. */
  print?: (line: string) => void;
}

/** What every example's `run` returns besides its own observations: the lines it printed. */
export interface ExampleReport {
  readonly store: StoreKind;
  readonly lines: readonly string[];
}
