import { type DisconnectOrder, type GatewayControl } from './gateway-control.port';

/**
 * Returns `count` controls on one fresh channel (as many instances would hold), and a way to put
 * raw text on that channel (a malformed order), with where malformed orders are reported.
 */
export type GatewayControlFactory = (count: number) => Promise<{
  controls: GatewayControl[];
  malformed: string[];
  publishRaw?: (text: string) => Promise<void>;
}>;

async function until(probe: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The contract of GatewayControl (see its doc comment), run against every implementation. */
export function describeGatewayControl(name: string, factory: GatewayControlFactory): void {
  describe(`${name} gateway control conformance`, () => {
    const opened: GatewayControl[] = [];
    const make = async (count: number) => {
      const made = await factory(count);
      opened.push(...made.controls);
      return made;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((control) => control.close()));
    });

    it('reaches every listening instance, the sender included, and counts them', async () => {
      const { controls } = await make(3);
      const heard = controls.map(() => [] as DisconnectOrder[]);
      expect(controls[0]!.listening).toBe(false);
      await controls[0]!.listen((order) => heard[0]!.push(order));
      expect(controls[0]!.listening).toBe(true);
      await controls[1]!.listen((order) => heard[1]!.push(order));
      // controls[2] only sends: it is not listening, so it is not counted.
      expect(await controls[2]!.disconnect({ userId: 'ash', reason: 'first' })).toBe(2);
      expect(await controls[0]!.disconnect({ userId: 'misty', reason: 'second' })).toBe(2);
      await until(() => heard[0]!.length === 2 && heard[1]!.length === 2, 'both orders');
      for (const orders of heard.slice(0, 2))
        expect(orders).toEqual([
          { userId: 'ash', reason: 'first' },
          { userId: 'misty', reason: 'second' },
        ]);
      expect(heard[2]).toEqual([]);
    });

    it('keeps nothing for an instance that listens later, nor after it closed', async () => {
      const { controls } = await make(2);
      expect(await controls[0]!.disconnect({ userId: 'ash', reason: 'nobody hears' })).toBe(0);
      const heard: DisconnectOrder[] = [];
      await controls[1]!.listen((order) => heard.push(order));
      expect(await controls[0]!.disconnect({ userId: 'brock', reason: 'heard' })).toBe(1);
      await until(() => heard.length === 1, 'the order published after listen');
      await controls[1]!.close();
      expect(controls[1]!.listening).toBe(false);
      expect(await controls[0]!.disconnect({ userId: 'misty', reason: 'closed' })).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toEqual([{ userId: 'brock', reason: 'heard' }]);
    });

    it('goes on after a handler throws, and drops malformed orders', async () => {
      const { controls, malformed, publishRaw } = await make(2);
      const heard: string[] = [];
      await controls[0]!.listen((order) => {
        heard.push(order.userId);
        if (order.userId === 'bad') throw new Error('handler failed');
      });
      await controls[1]!.disconnect({ userId: 'bad', reason: 'throws' });
      if (publishRaw) {
        await publishRaw('not json');
        await publishRaw(JSON.stringify({ kind: 'disconnect', userId: 42, reason: 'x' }));
      }
      await controls[1]!.disconnect({ userId: 'good', reason: 'after' });
      await until(() => heard.length === 2, 'the order after the failing one');
      expect(heard).toEqual(['bad', 'good']);
      if (publishRaw) expect(malformed).toHaveLength(2);
    });
  });
}
