import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/** The ports from `first` to `last`, both included. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/**
 * The setting that keeps freePort() (and so every test server and app a test starts on a free
 * port) within a range: `<first>-<last>`, e.g. `16120-16139`. Checkouts running tests side by
 * side each give their own range, so that one never takes a port another just chose.
 */
export const TEST_PORTS_SETTING = 'CAUSEWAY_TEST_PORTS';

/** Where the next search of a range starts, per range (see freePort). */
const nextOf = new Map<string, number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: one of `range` when given, else one of
 * CAUSEWAY_TEST_PORTS when `env` sets it, else any the system gives.
 *
 * In a range, each call starts its search after the port the last call returned (the first at
 * a random port), so that calls made before the caller binds the port get different ones.
 * Another process may still take a port between this answer and its use, as with any port
 * given by the system: a range of its own per checkout keeps other checkouts out of it.
 * @throws RangeError when `range` is not whole ports, first to last; Error naming the setting
 *   and its value when CAUSEWAY_TEST_PORTS is not `<first>-<last>`; Error naming the range when
 *   none of its ports is free
 */
export async function freePort(
  range?: PortRange,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  if (range) return freePortIn(checkedRange(range, 'freePort: range'), 'freePort range');
  const setting = env[TEST_PORTS_SETTING];
  if (setting === undefined || setting === '') return listenOn(0);
  return freePortIn(parsePortRange(setting), TEST_PORTS_SETTING);
}

/** `<first>-<last>` as a range, e.g. `16120-16139`. */
export function parsePortRange(text: string): PortRange {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const range = match && { first: Number(match[1]), last: Number(match[2]) };
  if (!range || !validRange(range))
    throw new Error(
      `${TEST_PORTS_SETTING}=${JSON.stringify(text)} is not a port range: expected ` +
        `<first>-<last>, whole ports from 1 to 65535, first <= last (e.g. 16120-16139)`,
    );
  return range;
}

function validRange({ first, last }: PortRange): boolean {
  return (
    Number.isInteger(first) &&
    Number.isInteger(last) &&
    first >= 1 &&
    first <= last &&
    last <= 65535
  );
}

function checkedRange(range: PortRange, what: string): PortRange {
  if (!validRange(range))
    throw new RangeError(
      `${what} must be whole ports from 1 to 65535, first <= last; got ${JSON.stringify(range)}`,
    );
  return range;
}

async function freePortIn(range: PortRange, source: string): Promise<number> {
  const size = range.last - range.first + 1;
  const key = `${range.first}-${range.last}`;
  const start = nextOf.get(key) ?? range.first + randomInt(size);
  let lastError: unknown;
  for (let i = 0; i < size; i++) {
    const port = range.first + ((start - range.first + i) % size);
    try {
      await listenOn(port);
    } catch (error) {
      lastError = error;
      continue;
    }
    nextOf.set(key, port === range.last ? range.first : port + 1);
    return port;
  }
  throw new Error(
    `no free port in ${key} (${source}): all ${size} are taken ` +
      `(last: ${(lastError as Error | undefined)?.message ?? 'none tried'})`,
  );
}

/** Listens on `port` of 127.0.0.1 (0: any), closes, and answers the port it had. */
function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
