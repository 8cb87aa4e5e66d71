import { runInMessageContext } from './message-context';
import { MessageFactory } from './message.factory';
import {
  currentTraceContext,
  isTraceparent,
  runInTraceContext,
  traceContextOf,
} from './trace-context';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C trace context in messages', () => {
  it('accepts valid traceparents and refuses the malformed ones the spec names', () => {
    expect(isTraceparent(PARENT)).toBe(true);
    expect(isTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future')).toBe(
      true,
    );
    for (const bad of [
      undefined,
      42,
      '',
      `${PARENT}-extra`, // version 00 has exactly four fields
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // all-zero trace id
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // all-zero parent id
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
    ])
      expect(isTraceparent(bad)).toBe(false);
  });

  it('reads traceparent and tracestate from headers or metadata, ignoring an invalid parent', () => {
    expect(traceContextOf({ traceparent: [PARENT], tracestate: 'congo=t61rcWkgMzE' })).toEqual({
      traceparent: PARENT,
      tracestate: 'congo=t61rcWkgMzE',
    });
    expect(traceContextOf({ traceparent: PARENT, tracestate: 'x'.repeat(513) })).toEqual({
      traceparent: PARENT,
    });
    expect(traceContextOf({ traceparent: 'nonsense', tracestate: 'a=b' })).toBeUndefined();
    // A tracestate that is not printable ASCII is dropped; repeated headers are joined.
    expect(traceContextOf({ traceparent: PARENT, tracestate: 'a=1\u0000' })).toEqual({
      traceparent: PARENT,
    });
    expect(traceContextOf({ traceparent: PARENT, tracestate: ['a=1', 'b=2'] })).toEqual({
      traceparent: PARENT,
      tracestate: 'a=1,b=2',
    });
    expect(traceContextOf(undefined)).toBeUndefined();
  });

  it('passes a later version on as version 00, bounded: its extra fields are not carried', () => {
    const later = `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${'Z'.repeat(200)}`;
    expect(traceContextOf({ traceparent: later })).toEqual({ traceparent: PARENT });
    expect(traceContextOf({ traceparent: `${later}${'Z'.repeat(100)}` })).toBeUndefined();
    const factory = new MessageFactory();
    expect(
      runInTraceContext({ traceparent: later }, () => factory.event('E', {})).metadata.traceparent,
    ).toBe(PARENT);
  });

  it("gives a message created while serving a request that request's trace, and one created while handling a message that message's trace", async () => {
    const factory = new MessageFactory();
    const command = await runInTraceContext(
      { traceparent: PARENT, tracestate: 'a=1' },
      async () => {
        await Promise.resolve();
        return factory.command('Move', { dx: 1 }, { causedBy: null });
      },
    );
    expect(command.metadata).toMatchObject({ traceparent: PARENT, tracestate: 'a=1' });
    expect(currentTraceContext()).toBeUndefined();

    const event = runInMessageContext(command, () =>
      runInTraceContext({ traceparent: PARENT.replace('00f0', '11f1') }, () =>
        factory.event('Moved', { x: 1 }),
      ),
    );
    expect(event.metadata).toMatchObject({ traceparent: PARENT, tracestate: 'a=1' });

    const explicit = factory.event(
      'Moved',
      { x: 1 },
      { causedBy: command, metadata: { traceparent: 'mine' } },
    );
    expect(explicit.metadata.traceparent).toBe('mine');
    expect(
      runInTraceContext({ traceparent: 'bad' }, () => factory.event('E', {})).metadata,
    ).not.toHaveProperty('traceparent');
  });
});
