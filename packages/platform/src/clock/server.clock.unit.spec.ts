import { ServerClock } from './server.clock';

const settle = () => new Promise((resolve) => setImmediate(resolve));

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
    const clock = new ServerClock({ read: async () => Date.now() - 30_000 });
    await settle();
    // This host's real time, read without Date.now (mocked below).
    const real = () => performance.timeOrigin + performance.now();
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(50);
    // Whole milliseconds, as Date.now (message timestamps are integers).
    expect(Number.isInteger(clock.now())).toBe(true);
    // NTP (or a resumed VM) steps this host's wall clock an hour on: the clock does not follow.
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    expect(Math.abs(clock.now() - (real() - 30_000))).toBeLessThan(50);
  });

  it("is this host's clock until a reading succeeds, retries soon, and warns once when readings keep failing", async () => {
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
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
    // Until the first reading, the next is tried every half second, not every refreshMs (10 s).
    const started = Date.now();
    await until(() => warnings.length > 0, 'the warning');
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(reads).toBeGreaterThanOrEqual(5);
    expect(warnings).toEqual([
      "the server's time could not be read (Connection is closed.); using this host's clock",
    ]);
    up = true;
    await until(() => clock.now() < 1_000_000, 'the first reading');
    expect(clock.now()).toBeGreaterThanOrEqual(1_000);
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
