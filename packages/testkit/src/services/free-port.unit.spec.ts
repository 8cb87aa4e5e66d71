import { createServer, type Server } from 'node:net';
import { freePort, parsePortRange, type PortRange } from './free-port';

/** Takes `port` on 127.0.0.1 until released; undefined when something else holds it. */
function hold(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const release = (servers: (Server | undefined)[]) =>
  Promise.all(servers.map((server) => server && new Promise((resolve) => server.close(resolve))));

/** A range of `size` ports starting at one the system had free (others' ports stay out). */
async function someRange(size: number): Promise<PortRange> {
  const first = await freePort(undefined, {});
  const start = Math.min(first, 65535 - size + 1);
  return { first: start, last: start + size - 1 };
}

describe('freePort', () => {
  it('answers a port of the range given, skipping the taken ones', async () => {
    const range = await someRange(5);
    const ports = [0, 1, 2, 3, 4].map((i) => range.first + i);
    const held = await Promise.all(ports.map(hold));
    // One left free: the one we held last (the others are ours, or someone else's).
    const free = ports.filter((_, i) => held[i]).at(-1)!;
    await release([held[ports.indexOf(free)]]);
    try {
      for (let call = 0; call < 3; call++) await expect(freePort(range)).resolves.toBe(free);
    } finally {
      await release(held.filter((_, i) => ports[i] !== free));
    }
  });

  it('answers another port at each call while the ones it answered are not bound yet', async () => {
    const range = await someRange(10);
    const answered = [await freePort(range), await freePort(range), await freePort(range)];
    expect(new Set(answered).size).toBe(3);
    for (const port of answered) {
      expect(port).toBeGreaterThanOrEqual(range.first);
      expect(port).toBeLessThanOrEqual(range.last);
    }
  });

  it('takes the range from CAUSEWAY_TEST_PORTS when given none', async () => {
    const range = await someRange(4);
    const env = { CAUSEWAY_TEST_PORTS: `${range.first}-${range.last}` };
    for (let call = 0; call < 8; call++) {
      const port = await freePort(undefined, env);
      expect({ call, inRange: port >= range.first && port <= range.last }).toEqual({
        call,
        inRange: true,
      });
    }
  });

  it('fails naming the range and where it came from when every port of it is taken', async () => {
    const range = await someRange(3);
    const held = await Promise.all([0, 1, 2].map((i) => hold(range.first + i)));
    const shown = `${range.first}-${range.last}`;
    try {
      await expect(freePort(range)).rejects.toThrow(
        `no free port in ${shown} (freePort range): all 3 are taken`,
      );
      await expect(freePort(undefined, { CAUSEWAY_TEST_PORTS: shown })).rejects.toThrow(
        `no free port in ${shown} (CAUSEWAY_TEST_PORTS): all 3 are taken`,
      );
    } finally {
      await release(held);
    }
  });

  it('refuses a malformed CAUSEWAY_TEST_PORTS or range, naming it', async () => {
    for (const text of ['16120', '16139-16120', '0-10', '16120-70000', '1.5-3', 'a-b'])
      await expect(freePort(undefined, { CAUSEWAY_TEST_PORTS: text })).rejects.toThrow(
        `CAUSEWAY_TEST_PORTS=${JSON.stringify(text)} is not a port range: expected <first>-<last>`,
      );
    await expect(freePort({ first: 20, last: 10 })).rejects.toThrow(RangeError);
    await expect(freePort({ first: 1.5, last: 10 })).rejects.toThrow('freePort: range');
    expect(parsePortRange(' 16120 - 16139 ')).toEqual({ first: 16120, last: 16139 });
  });

  it('answers any free port without a range or setting', async () => {
    const port = await freePort(undefined, {});
    const server = await hold(port);
    expect(server).toBeDefined();
    await release([server]);
  });
});
