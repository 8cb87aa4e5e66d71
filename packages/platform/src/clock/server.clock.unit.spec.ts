import { DeferredError } from '@causeway/cqrs-core';
import { ServerClock, ServerClockUnsynchronisedError } from './server.clock';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const real = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ServerClock', () => {
  afterEach(() => jest.restoreAllMocks());

  it("tells the server's time once read, and keeps counting from it when this host's clock steps", async () => {
    // The server runs 30 s behind this host: what two hosts stamping one trainer's moves must share.
    // One reading ends the start-up sampling here whatever its round trip (a busy machine's can
    // pass the 5 ms that would, and further readings would follow): not what this test is about.
    const clock = new ServerClock({
      read: async () => Date.now() - 30_000,
      goodRoundTripMs: 1_000,
    });
    await settle();
    // `real`: this host's time, read without Date.now (mocked below).
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(50);
    // Whole milliseconds, as Date.now (message timestamps are integers).
    expect(Number.isInteger(clock.now())).toBe(true);
    // NTP (or a resumed VM) steps this host's wall clock an hour on: the clock does not follow.
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(50);
  });

  it('refuses to tell a time until a reading succeeds, retries soon, and warns once when readings keep failing', async () => {
    let up = false;
    let reads = 0;
    const warnings: string[] = [];
    const clock = new ServerClock({
      read: async () => {
        reads++;
        if (!up) throw new Error('Connection is closed.');
        return 1_000;
      },
      onError: (message) => warnings.push(message),
    });
    await settle();
    // Never this host's clock (session 30): a DeferredError, so a handler defers the command.
    expect(() => clock.now()).toThrow(ServerClockUnsynchronisedError);
    expect(() => clock.now()).toThrow(DeferredError);
    expect(clock.synchronised).toBe(false);
    await expect(clock.probe().check()).rejects.toThrow(/Redis TIME\) has not been read yet/);
    expect(clock.probe().name).toBe('clock');
    expect(await clock.whenSynchronised(50)).toBe(false);
    // Until the first reading, the next is tried every half second, not every refreshMs (10 s).
    const started = Date.now();
    await until(() => warnings.length > 0, 'the warning');
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(reads).toBeGreaterThanOrEqual(5);
    expect(warnings).toEqual([
      "the server's time could not be read (Connection is closed.); commands are refused until it is read",
    ]);
    up = true;
    expect(await clock.whenSynchronised(5_000)).toBe(true);
    expect(clock.now()).toBeGreaterThanOrEqual(1_000);
    expect(clock.now()).toBeLessThan(1_000_000);
    await expect(clock.probe().check()).resolves.toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it('reads again once its reading is refreshMs old, at most one reading at a time', async () => {
    let server = 5_000_000;
    let reads = 0;
    const clock = new ServerClock({
      read: async () => {
        reads++;
        return server;
      },
      refreshMs: 50,
      goodRoundTripMs: 1_000, // one reading ends the start, however busy the machine
    });
    await settle();
    expect(reads).toBe(1);
    for (let i = 0; i < 10; i++) clock.now();
    expect(reads).toBe(1);
    server = 9_000_000;
    await new Promise((resolve) => setTimeout(resolve, 60));
    clock.now();
    clock.now();
    await settle();
    expect(reads).toBe(2);
    expect(clock.now()).toBeGreaterThanOrEqual(9_000_000);
  });
});

describe('ServerClock: readings that are slow or late', () => {
  it('tries again within half a second when a first reading came back too late to use', async () => {
    // Redis 30 s behind this host. The first TIME waits 1.1 s in ioredis' offline queue (the
    // connection is not open yet); later ones are fast.
    let reads = 0;
    const clock = new ServerClock({
      read: async () => {
        reads++;
        if (reads === 1) await sleep(1_100);
        return Date.now() - 30_000;
      },
    });
    // Well before refreshMs (10 s) the clock should be on Redis' time: it tried again soon.
    expect(await clock.whenSynchronised(8_000)).toBe(true);
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(100);
  });

  it('never goes backwards between two calls (a stop must not be stamped before its start)', async () => {
    let slow = false;
    let during = 0;
    const clock = new ServerClock({
      read: async () => {
        const server = real(); // Redis answers at once...
        if (slow) {
          // ...but this process' event loop is busy 400 ms (GC, a big JSON) before it handles it.
          const until = real() + 400;
          while (real() < until);
          during = clock.now(); // a command stamped at the end of the stall (start)
        }
        return Math.floor(server);
      },
      refreshMs: 60_000,
      goodRoundTripMs: 1_000, // one reading ends the start, however busy the machine
    });
    await clock.sync();
    slow = true;
    await clock.sync();
    const after = clock.now(); // the next command (stop)
    expect(after).toBeGreaterThanOrEqual(during);
  });

  it('keeps counting while a new reading is behind, so a start and its stop get different times', async () => {
    let slow = false;
    let start = 0;
    const clock = new ServerClock({
      read: async () => {
        const server = real();
        if (slow) {
          // The answer is handled 400 ms late: this reading is ~200 ms behind the last one.
          const until = real() + 400;
          while (real() < until);
          start = clock.now();
        }
        return Math.floor(server);
      },
      refreshMs: 60_000,
      goodRoundTripMs: 1_000, // one reading ends the start, however busy the machine
    });
    await clock.sync();
    slow = true;
    await clock.sync();
    await sleep(40);
    const stop = clock.now(); // 40 ms later, well within the ~200 ms the reading is behind
    expect(stop - start).toBeGreaterThanOrEqual(15);
    // Once it has caught up with the reading (~200 ms behind at half speed: ~400 ms), it
    // counts at full speed again.
    await sleep(500);
    const before = clock.now();
    await sleep(100);
    expect(clock.now() - before).toBeGreaterThanOrEqual(95);
  });
});

describe('ServerClock.sync', () => {
  it("whenSynchronised resolves once the start-up readings are in (the constructor's)", async () => {
    const clock = new ServerClock({
      read: async () => {
        await sleep(100);
        return Date.now() - 30_000;
      },
    });
    await clock.sync(); // "Takes a reading now; resolves once it is in (or failed)"
    // Eight readings of 100 ms or more (none is within 5 ms): about 1 s, longer on a busy machine.
    expect(await clock.whenSynchronised(10_000)).toBe(true);
    // Within a round trip of the 30 s offset (the 100 ms read may take longer under load).
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(500);
  });

  it("follows the server's clock when it is set back by more than a round trip", async () => {
    let server = 50_000_000;
    const clock = new ServerClock({
      read: async () => server,
      refreshMs: 20,
      goodRoundTripMs: 1_000,
    });
    await clock.sync();
    expect(clock.now()).toBeGreaterThanOrEqual(50_000_000);
    server = 10_000_000; // set back by more than 11 hours
    await sleep(30);
    clock.now();
    await clock.sync();
    expect(clock.now()).toBeLessThan(20_000_000);
  });
});

describe('ServerClock: the reading it keeps (session 30)', () => {
  // A fake monotonic clock, and a server 40 s behind this host's (fake) epoch: `serverAt(mono)`.
  // Each reading takes `trips.shift()` ms; Redis answers `answerAt` of the way through it (0 at
  // once, 1 at the end: a TIME queued before the connection opened).
  function harness(trips: number[], answerAt = 1) {
    let mono = 1_000;
    const serverAt = (at: number) => 1_700_000_000_000 + at;
    const debug: string[] = [];
    let reads = 0;
    const read = async () => {
      reads++;
      const trip = trips.length > 1 ? trips.shift()! : trips[0]!;
      const answered = serverAt(mono + trip * answerAt);
      await sleep(1);
      mono += trip;
      return Math.floor(answered);
    };
    const clock = new ServerClock({
      read,
      monotonic: () => mono,
      onDebug: (message) => debug.push(message),
      refreshMs: 10_000,
    });
    return {
      clock,
      debug,
      reads: () => reads,
      error: () => clock.now() - serverAt(mono),
      advance: (ms: number) => (mono += ms),
    };
  }

  it('samples at start until a reading with a small round trip is in, and keeps that one', async () => {
    // The first TIME waits 600 ms for the connection (and Nest's start-up): its midpoint
    // estimate is 300 ms ahead. The next ones take 2 ms.
    const h = harness([600, 2]);
    expect(h.clock.errorBoundMs).toBeUndefined(); // not synchronised yet
    await until(() => h.reads() >= 2, 'a second reading', 2_000);
    await sleep(50);
    expect(Math.abs(h.error())).toBeLessThanOrEqual(2);
    // What it tells of itself: half the 2 ms round trip (the drift since is far below 0.01 ms).
    expect(h.clock.errorBoundMs).toBeCloseTo(1, 2);
    // Sampling stopped once the good reading was in: no reading every 10 ms from then on.
    const reads = h.reads();
    await sleep(100);
    expect(h.reads()).toBe(reads);
  });

  it('keeps the best of the first readings when none is fast', async () => {
    const h = harness([600, 300, 40, 120, 90, 200, 60, 80, 10]);
    await until(() => h.reads() >= 8, 'eight readings', 2_000);
    await sleep(50);
    expect(h.reads()).toBe(8); // the best of 8, then it stops
    // The 40 ms one: off by at most 20 ms (Redis answered at its end).
    expect(Math.abs(h.error())).toBeLessThanOrEqual(20);
  });

  it('never lets a worse reading replace a better one, and tells why it dropped it', async () => {
    const h = harness([2, 400]);
    await h.clock.sync();
    await sleep(50);
    expect(Math.abs(h.error())).toBeLessThanOrEqual(2);
    // 10 s on, the next reading takes 400 ms (a busy event loop): its estimate is 200 ms ahead.
    h.advance(10_000);
    h.clock.now();
    await until(() => h.reads() >= 2, 'the refresh', 2_000);
    await sleep(10);
    expect(Math.abs(h.error())).toBeLessThanOrEqual(10);
    expect(h.debug.join('\n')).toMatch(/dropped a reading of the server's time: round trip 400 ms/);
  });
});
